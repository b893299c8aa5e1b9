//! The `zenml` command. It links zenml's own steps only; to run configs that use your steps,
//! build a binary of your own that links them (see `zenml::cli`).

fn main() -> std::process::ExitCode {
    zenml::cli::main()
}
