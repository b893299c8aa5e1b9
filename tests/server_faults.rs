//! Faults of a shared metadata store's server, in the middle of a run: the server ends the run's
//! connection (`KILL`, as an administrator or a server restart would), and the server goes away
//! altogether (a proxy between the run and the server stops forwarding and refuses new
//! connections, then comes back).
//!
//! The run's middle step holds at a barrier while the test does the damage, so that the fault
//! falls between the step's start and its end: no timing is guessed. The tests run on throw-away
//! databases of the server `ZENML_TEST_MYSQL_URL` names, and skip with a printed reason without
//! it (failing when `CI` is set).
#![cfg(feature = "mysql")]

mod common;
#[path = "common/mysql.rs"]
mod mysql;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex, PoisonError};

use common::*;
use zenml::artifact::io::ContentStore;
use zenml::backends::mysql::{MysqlMetadataStore, MysqlOptions};
use zenml::backends::object::ObjectArtifactStore;
use zenml::prelude::*;
use zenml::store::{ArtifactStore, ExecutionState, MetadataQuery};

/// The barriers the step `Hold` meets twice (once on starting, once before it ends), by its
/// gate; the test meets the barrier in between. Each test has a gate of its own.
static GATES: Mutex<BTreeMap<u32, Arc<Barrier>>> = Mutex::new(BTreeMap::new());

/// Sets (or, with `None`, lifts) the barrier of `gate`.
fn hold_at(gate: u32, barrier: Option<Arc<Barrier>>) {
    let mut gates = GATES.lock().unwrap_or_else(PoisonError::into_inner);
    match barrier {
        Some(b) => gates.insert(gate, b),
        None => gates.remove(&gate),
    };
}

/// Passes its table through, holding at the barrier of its gate while one is set.
#[step]
#[derive(Debug)]
pub struct Hold {
    /// Which barrier.
    pub gate: u32,
}

#[step]
impl Step for Hold {
    fn inputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("numbers")]
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("numbers")]
    }
    fn run(&self, _ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        let barrier = GATES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&self.gate)
            .cloned();
        if let Some(b) = barrier {
            b.wait();
            b.wait();
        }
        let t: &Table = inputs.get("numbers")?;
        Ok(Outputs::new().with("numbers", t.clone()))
    }
}

/// numbers → hold (at the barrier of gate `n`) → sum.
fn held(n: u32) -> Pipeline {
    Pipeline::new(format!("held {n}"))
        .add_step("numbers", Numbers { n, scale: 1.0 }, [])
        .add_step("hold", Hold { gate: n }, [("numbers", "numbers.numbers")])
        .add_step("sum", Sum {}, [("numbers", "hold.numbers")])
}

/// A TCP proxy on a port of its own, forwarding to the server until it is cut.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn to(host: &str, port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the proxy");
        let proxy = Proxy {
            port: listener.local_addr().expect("the proxy's address").port(),
            up: Arc::new(AtomicBool::new(true)),
            open: Arc::new(Mutex::new(Vec::new())),
        };
        let (up, open) = (proxy.up.clone(), proxy.open.clone());
        let target = format!("{host}:{port}");
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up.load(Ordering::SeqCst) {
                    // Down: the connection is closed at once, as by a server that is gone.
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut streams = open.lock().unwrap_or_else(PoisonError::into_inner);
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                        continue;
                    };
                    std::thread::spawn(move || pump(from, to));
                }
                streams.extend([client, server]);
            }
        });
        proxy
    }

    /// Stops forwarding: every connection is cut, new ones are closed at once.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Forwards again.
    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// A repository over `db` and a local artifact folder.
fn repo(db: &MysqlOptions, artifacts: &Arc<dyn ArtifactStore>) -> Repository {
    let md: Arc<dyn MetadataQuery> =
        Arc::new(MysqlMetadataStore::open(db).unwrap_or_else(|e| panic!("{e}")));
    Repository::with_stores(md, artifacts.clone()).with_options(quiet())
}

/// No execution is COMPLETE without its outputs, and every output is stored whole.
fn assert_complete_means_stored(md: &dyn MetadataQuery, artifacts: &dyn ArtifactStore) {
    let content = ContentStore::new(artifacts);
    for run in md.runs(None).expect("runs") {
        for e in md.executions(run.id).expect("executions") {
            if e.state == ExecutionState::Complete {
                assert!(!e.outputs.is_empty(), "`{}` of {}", e.step_name, run.name);
                for (name, id) in &e.outputs {
                    let record = md.artifact(*id).expect("artifact");
                    content
                        .verify(&record)
                        .unwrap_or_else(|err| panic!("`{name}` of `{}`: {err}", e.step_name));
                }
            }
        }
    }
}

#[test]
fn a_connection_the_server_ends_mid_run_is_replaced_and_the_run_completes() {
    let test = "a_connection_the_server_ends_mid_run_is_replaced_and_the_run_completes";
    let Some(server) = mysql::mysql_server(test) else {
        return;
    };
    let db = server.create();
    let folder = tempfile::tempdir().expect("a temporary directory");
    let artifacts: Arc<dyn ArtifactStore> =
        Arc::new(ObjectArtifactStore::local(folder.path()).expect("a local folder"));
    let repo = repo(&db, &artifacts);

    let barrier = Arc::new(Barrier::new(2));
    hold_at(20, Some(barrier.clone()));
    let summary = std::thread::scope(|scope| {
        let run = scope.spawn(|| repo.run(&held(20)));
        barrier.wait();
        // The step runs: every connection to the database is ended by the server.
        assert!(server.kill_connections(&db.database) >= 1);
        barrier.wait();
        run.join().expect("the run's thread")
    });
    hold_at(20, None);
    let summary = summary.unwrap_or_else(|e| panic!("the run fails: {e}"));
    assert_eq!(summary.executed().len(), 3);
    assert_complete_means_stored(repo.metadata_store().as_ref(), artifacts.as_ref());
    let again = repo.run(&held(20)).expect("a rerun");
    assert_eq!(again.cached().len(), 3);
}

#[test]
fn a_server_gone_mid_run_fails_the_run_clearly_and_a_rerun_reuses_what_completed() {
    let test = "a_server_gone_mid_run_fails_the_run_clearly_and_a_rerun_reuses_what_completed";
    let Some(server) = mysql::mysql_server(test) else {
        return;
    };
    let direct = server.create();
    let proxy = Proxy::to(&direct.host, direct.port);
    let via_proxy = MysqlOptions {
        host: "127.0.0.1".to_owned(),
        port: proxy.port,
        ..direct.clone()
    };
    let folder = tempfile::tempdir().expect("a temporary directory");
    let artifacts: Arc<dyn ArtifactStore> =
        Arc::new(ObjectArtifactStore::local(folder.path()).expect("a local folder"));
    let repo = repo(&via_proxy, &artifacts);

    let barrier = Arc::new(Barrier::new(2));
    hold_at(21, Some(barrier.clone()));
    let failed = std::thread::scope(|scope| {
        let run = scope.spawn(|| repo.run(&held(21)));
        barrier.wait();
        // The step runs: the server goes away.
        proxy.cut();
        barrier.wait();
        run.join().expect("the run's thread")
    });
    hold_at(21, None);
    let e = failed.expect_err("the server is gone");
    let text = e.to_string();
    assert!(
        text.contains(&format!("cannot connect to {}", via_proxy.describe()))
            && text.contains("cannot be reached"),
        "{text}"
    );

    // Nothing is COMPLETE without its artifacts (read directly from the server).
    let md = MysqlMetadataStore::open(&direct).expect("open");
    assert_complete_means_stored(&md, artifacts.as_ref());
    let complete: Vec<String> = md
        .runs(None)
        .expect("runs")
        .iter()
        .flat_map(|r| md.executions(r.id).expect("executions"))
        .filter(|e| e.state == ExecutionState::Complete)
        .map(|e| e.step_name)
        .collect();
    assert_eq!(complete, ["numbers"]);

    // The server is back: the same repository runs again, reusing what had completed.
    proxy.restore();
    let again = repo.run(&held(21)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.cached(), ["numbers"]);
    assert_eq!(again.executed().len(), 2);
    assert_complete_means_stored(&md, artifacts.as_ref());
}
