//! `diffusion bench states`: training steps/s and sampling samples/s per device (numbers, not tests).

use clap::Args;
use diffusion::limits;

use crate::bench_twins as twins;
use crate::device::DeviceArg;
use crate::ranged::ranged;

#[derive(Args)]
pub struct BenchArgs {
    /// Devices to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "cpu,wgpu")]
    devices: Vec<DeviceArg>,
    #[arg(long, default_value_t = 10_000, value_parser = ranged::<usize>(limits::BATCH))]
    batch: usize,
    /// Timed training steps (after 3 warm-up steps).
    #[arg(long, default_value_t = 20, value_parser = ranged::<usize>(limits::TRAIN_STEPS))]
    steps: usize,
    /// Points sampled through all T reverse steps.
    #[arg(long, default_value_t = 5000, value_parser = ranged::<usize>(limits::SAMPLES))]
    n: usize,
}

pub fn bench_states(args: BenchArgs) -> Result<(), String> {
    println!("| device | batch | train steps/s | ms/step | samples/s (n = {}, T steps) |", args.n);
    println!("|---|---|---|---|---|");
    for device_arg in &args.devices {
        let device = device_arg.device()?;
        let rate = twins::states_train(args.batch, args.steps, &device)?;
        let samples = twins::states_sample(args.n, &device)?;
        println!("| {} | {} | {rate:.2} | {:.0} | {samples:.1} |", device_arg.name(), args.batch, 1000.0 / rate);
    }
    Ok(())
}

#[derive(Args)]
pub struct BenchMnistArgs {
    /// An MNIST UNet file (its architecture is what is timed).
    #[arg(long, default_value = "web/models/mnist-vp.safetensors")]
    weights: std::path::PathBuf,
    #[arg(long, value_delimiter = ',', default_value = "cpu,wgpu")]
    devices: Vec<DeviceArg>,
    /// Grid sizes: images sampled at once.
    #[arg(long, value_delimiter = ',', default_value = "1,16,256", value_parser = ranged::<usize>(limits::IMAGE_BATCH))]
    batches: Vec<usize>,
    /// Timed DPM-Solver++(2M) steps (network evaluations) per measurement, after three warm-up steps.
    #[arg(long, default_value_t = 5, value_parser = ranged::<usize>(limits::NFE))]
    steps: usize,
}

/// Sampling speed of the MNIST UNet: network evaluations of one image per second, and what that
/// means for a 50-step sampler (images/s), per device and batch.
pub fn bench_mnist(args: BenchMnistArgs) -> Result<(), String> {
    println!("| device | images at once | image evaluations/s | images/s at 50 steps |");
    println!("|---|---|---|---|");
    for device_arg in &args.devices {
        let device = match device_arg.device() {
            Ok(device) => device,
            Err(e) => {
                println!("| {} | – | unavailable: {e} | – |", device_arg.name());
                continue;
            }
        };
        let (unet, file) = crate::mnist::load_unet(&args.weights, &device)?;
        for &n in &args.batches {
            let rate = twins::mnist_sample(&unet, &file, n, args.steps, &device)?;
            println!("| {} | {n} | {rate:.1} | {:.2} |", device_arg.name(), rate / 50.0);
        }
    }
    Ok(())
}
