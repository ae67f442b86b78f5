"""Training engine for the trainer service: model, losses and the training loop."""
