"""Training the two-step model: data preparation, the CycleGAN (step 1), the extrapolator (step 2).

    data = prepare_data(Sources.from_world(world), config.data, run_dir / "data")
    train_cyclegan(config, data, run_dir)          # RUN_DIR/checkpoint.pt, metrics.csv
    train_extrapolator(config, data, run_dir)

`python -m transform train-cyclegan | train-extrapolator` wrap these (docs/training.md).
"""
