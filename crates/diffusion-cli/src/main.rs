//! `diffusion`: the native command line of the diffusion playground.
//!
//! train states → denoiser.safetensors + config.json + loss.csv + loss.png;
//! sample states → samples.csv (+ a PNG scatter); eval nll → the course grader; bench → speed.

mod bench;
mod device;
mod plot;
mod states;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "diffusion", version, about = "Train, sample and evaluate diffusion models")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model.
    #[command(subcommand)]
    Train(TrainCommand),
    /// Draw samples from a trained model.
    #[command(subcommand)]
    Sample(SampleCommand),
    /// Evaluate samples.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Measure training and sampling speed.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum TrainCommand {
    /// The course's DDPM on the STATES points.
    States(states::TrainArgs),
}

#[derive(Subcommand)]
enum SampleCommand {
    /// Ancestral sampling from a STATES denoiser.
    States(states::SampleArgs),
}

#[derive(Subcommand)]
enum EvalCommand {
    /// The course grader: mean −log KDE(sample), KDE fitted on the 5000 STATES points.
    Nll(NllArgs),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Training steps/s and samples/s of the STATES DDPM per device.
    States(bench::BenchArgs),
}

#[derive(Args)]
struct NllArgs {
    /// CSV with header `x,y` (or `x,y,label`).
    samples: PathBuf,
}

fn main() -> ExitCode {
    let outcome = match Cli::parse().command {
        Command::Train(TrainCommand::States(args)) => states::train(args),
        Command::Sample(SampleCommand::States(args)) => states::sample(args),
        Command::Eval(EvalCommand::Nll(args)) => states::eval_nll(&args.samples),
        Command::Bench(BenchCommand::States(args)) => bench::bench_states(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
