//! `cargo run --release --example bench_scan [SIZES...]`: the scanner benchmark until the binary
//! has a subcommand for it.

fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000]
    } else {
        sizes
    };
    shelfwarden::cli::bench_scan::run(&sizes)
}
