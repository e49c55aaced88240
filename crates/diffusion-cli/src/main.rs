//! `diffusion`: the native command line of the diffusion playground.
//!
//! train states → denoiser.safetensors + config.json + loss.csv + loss.png;
//! train states-classifier → classifier.safetensors + curves; sample states → samples.csv (+ a
//! PNG scatter), guided with --classifier/--label; report states → every course deliverable;
//! eval nll → the course grader; bench → speed.

mod allocator;
mod bench;
mod bench_twins;
mod classifier;
mod common;
mod compare;
mod device;
mod files;
mod grading;
mod likelihood;
mod mnist;
mod mnist_eval;
mod mnist_likelihood;
mod mnist_surrogate;
mod mnist_train;
mod npy;
mod plot;
mod ranged;
mod rdmc;
mod report;
mod report_arch;
mod report_hse;
mod report_mnist_surrogate;
mod report_surrogate;
mod states;
mod states_config;
mod surrogate;

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
    /// Regenerate every deliverable of a project.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Every sampler at several step counts: NFE, grader NLL, coverage, time.
    #[command(subcommand)]
    Compare(CompareCommand),
    /// −log p(data) through the probability-flow ODE (nats and bits/dim).
    Likelihood(likelihood::LikelihoodArgs),
    /// Test bits/dim of an MNIST UNet through the probability-flow ODE (Hutchinson).
    LikelihoodMnist(mnist_likelihood::LikelihoodArgs),
    /// Reverse diffusion Monte Carlo on an energy target (no training).
    Rdmc(rdmc::RdmcArgs),
    /// rdMC against ULA and MALA at equal ∇f budgets: MMD², sliced W₂, mode-mass error.
    RdmcCompare(rdmc::CompareArgs),
    /// Measure training and sampling speed.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum TrainCommand {
    /// The course's DDPM on the STATES points.
    States(states_config::TrainArgs),
    /// The course's noisy classifier f(y | x_t, t) on the STATES points, for guidance.
    StatesClassifier(classifier::TrainClassifierArgs),
    /// The class-conditional MNIST UNet (score SDE, classifier-free guidance), resumable.
    Mnist(mnist_train::TrainArgs),
    /// The small CNN that judges generated digits (accuracy, classifier-FID features).
    MnistClassifier(mnist_eval::TrainClassifierArgs),
    /// A cheap model of the STATES points (a Gaussian mixture by EM) to start samplers part-way.
    StatesSurrogate(surrogate::TrainSurrogateArgs),
    /// A cheap model of MNIST's digits (a class-conditional conv VAE) to start samplers part-way.
    MnistSurrogate(mnist_surrogate::TrainArgs),
}

#[derive(Subcommand)]
enum CompareCommand {
    /// One STATES denoiser through the chain and every SDE/ODE sampler.
    States(compare::CompareArgs),
    /// An MNIST UNet through several samplers: class accuracy, classifier-FID, wall time.
    Mnist(mnist_eval::CompareArgs),
}

#[derive(Subcommand)]
enum ReportCommand {
    /// The STATES course project: scatter plots, curves, prediction maps and report.md.
    States(report::ReportArgs),
    /// The HSE study's STATES tables (improved DDPM, IWDiff, importance sampling, T): README.md.
    Hse(report_hse::HseArgs),
    /// The surrogate table on STATES (seed 003 Table 4.5): GMM starts at t_mid against plain diffusion.
    Surrogate(report_surrogate::SurrogateReportArgs),
    /// The UNet architectures on MNIST (seed 003 Table 4.3): presets at an equal step budget.
    Architectures(report_arch::ArchArgs),
    /// The surrogate table on MNIST (seed 003 Table 4.5): conv-VAE and DDPM-14 starts at t_mid.
    MnistSurrogate(report_mnist_surrogate::MnistSurrogateReportArgs),
}

#[derive(Subcommand)]
enum SampleCommand {
    /// Sampling from a STATES denoiser, optionally guided towards a state by a classifier.
    States(states::SampleArgs),
    /// Digits from an MNIST UNet: samples.npy, labels.npy, grid.png.
    Mnist(mnist::SampleArgs),
}

#[derive(Subcommand)]
enum EvalCommand {
    /// The course grader: mean −log KDE(sample), KDE fitted on the 5000 STATES points.
    Nll(NllArgs),
    /// Class accuracy and classifier-FID of a `sample mnist` directory.
    Mnist(mnist_eval::EvalArgs),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Training steps/s and samples/s of the STATES DDPM per device.
    States(bench::BenchArgs),
    /// Sampling images/s of the MNIST UNet per device for 1, 16 and 256 images at once.
    Mnist(bench::BenchMnistArgs),
    /// One timed run of a workload `bench/twins.py` runs in PyTorch, as a JSON line (`cargo xtask bench`).
    Twin(bench_twins::TwinArgs),
}

#[derive(Args)]
struct NllArgs {
    /// CSV with header `x,y` (or `x,y,label`).
    samples: PathBuf,
}

fn main() -> ExitCode {
    allocator::keep_freed_memory();
    // A reader that closes the pipe (`| head`) ends the process as it ends cat or grep, instead of
    // the next println! panicking on the closed pipe: the Rust runtime ignores SIGPIPE.
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let outcome = match Cli::parse().command {
        Command::Train(TrainCommand::States(args)) => states::train(args),
        Command::Train(TrainCommand::StatesSurrogate(args)) => surrogate::train(args),
        Command::Train(TrainCommand::StatesClassifier(args)) => classifier::train(args),
        Command::Sample(SampleCommand::States(args)) => states::sample(args),
        Command::Train(TrainCommand::Mnist(args)) => mnist_train::train(args),
        Command::Train(TrainCommand::MnistClassifier(args)) => mnist_eval::train_classifier(args),
        Command::Train(TrainCommand::MnistSurrogate(args)) => mnist_surrogate::train(args),
        Command::Eval(EvalCommand::Mnist(args)) => mnist_eval::eval(args),
        Command::Compare(CompareCommand::Mnist(args)) => mnist_eval::compare(args),
        Command::LikelihoodMnist(args) => mnist_likelihood::likelihood(args),
        Command::Sample(SampleCommand::Mnist(args)) => mnist::sample(args),
        Command::Report(ReportCommand::States(args)) => report::report(args),
        Command::Report(ReportCommand::Hse(args)) => report_hse::report(args),
        Command::Report(ReportCommand::Surrogate(args)) => report_surrogate::report(args),
        Command::Report(ReportCommand::Architectures(args)) => report_arch::report(args),
        Command::Report(ReportCommand::MnistSurrogate(args)) => report_mnist_surrogate::report(args),
        Command::Likelihood(args) => likelihood::likelihood(args),
        Command::Compare(CompareCommand::States(args)) => compare::compare(args),
        Command::Eval(EvalCommand::Nll(args)) => grading::eval_nll(&args.samples),
        Command::Bench(BenchCommand::States(args)) => bench::bench_states(args),
        Command::Bench(BenchCommand::Mnist(args)) => bench::bench_mnist(args),
        Command::Bench(BenchCommand::Twin(args)) => bench_twins::bench_twin(args),
        Command::Rdmc(args) => rdmc::rdmc(args),
        Command::RdmcCompare(args) => rdmc::compare(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
