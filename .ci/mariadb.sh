#!/usr/bin/env bash
# A MariaDB server on 127.0.0.1:3306 for the tests of the MySQL metadata store, and a throw-away
# account for one test run. Needs root (it may install and start the server).
#
#   .ci/mariadb.sh create       # start the server if it is not running (installing Debian's
#                               # mariadb-server if it is missing), make an account that may
#                               # create databases named after it, print its URL:
#                               # mysql://USER:PASSWORD@127.0.0.1:3306/USER
#   .ci/mariadb.sh drop USER    # drop that account and every database named after it
set -euo pipefail

port=3306

say() { printf '%s\n' "$*" >&2; }

# The server's administrator: root over the local socket (Debian's default, unix_socket
# authentication), else root without a password over TCP.
admin() {
  if mariadb --protocol=socket -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    mariadb --protocol=socket -uroot "$@"
  else
    mariadb --protocol=tcp -h127.0.0.1 -P"$port" -uroot "$@"
  fi
}

answers() {
  mariadb-admin --protocol=tcp -h127.0.0.1 -P"$port" --connect-timeout=2 ping >/dev/null 2>&1
}

start() {
  if answers; then
    say "MariaDB answers on 127.0.0.1:$port"
    return
  fi
  if [ ! -x /usr/sbin/mariadbd ]; then
    say "installing Debian's mariadb-server"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >&2
  fi
  if [ ! -d /var/lib/mysql/mysql ]; then
    say "initialising /var/lib/mysql"
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >&2
  fi
  mkdir -p /run/mysqld
  chown mysql:mysql /run/mysqld
  if ! answers; then
    say "starting mariadbd on 127.0.0.1:$port"
    start-stop-daemon --start --quiet --oknodo --background \
      --pidfile /run/mysqld/ci.pid --make-pidfile \
      --exec /usr/sbin/mariadbd -- --user=mysql --bind-address=127.0.0.1 --port="$port"
  fi
  for _ in $(seq 120); do
    answers && { say "MariaDB answers on 127.0.0.1:$port"; return; }
    sleep 0.5
  done
  say "error: MariaDB did not start on 127.0.0.1:$port"
  exit 1
}

create() {
  start
  local suffix user password pattern
  suffix=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
  user="zenml_ci_$suffix"
  password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  # `_` is a wildcard in a grant's database name: escaped, the pattern is the prefix itself.
  pattern="${user//_/\\_}%"
  admin <<SQL
CREATE USER '$user'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE USER '$user'@'localhost' IDENTIFIED BY '$password';
GRANT ALL ON \`$pattern\`.* TO '$user'@'127.0.0.1';
GRANT ALL ON \`$pattern\`.* TO '$user'@'localhost';
CREATE DATABASE \`$user\`;
SQL
  printf 'mysql://%s:%s@127.0.0.1:%s/%s\n' "$user" "$password" "$port" "$user"
}

drop() {
  local user=$1
  case $user in
    zenml_ci_*) ;;
    *) say "error: $user is not an account this script made"; exit 1 ;;
  esac
  local dbs
  dbs=$(admin -N -e "SELECT schema_name FROM information_schema.schemata \
                     WHERE schema_name LIKE '${user//_/\\_}%'")
  for db in $dbs; do
    admin -e "DROP DATABASE \`$db\`"
  done
  admin -e "DROP USER IF EXISTS '$user'@'127.0.0.1', '$user'@'localhost'"
}

case ${1:-} in
  create) create ;;
  drop) drop "${2:?usage: $0 drop USER}" ;;
  *) say "usage: $0 create | drop USER"; exit 2 ;;
esac
