"""Training: the setup (model, loss, optimizer, tensors), fit() and its stacked twin, optimizers, device and
threads, signals, and the loop state a checkpoint keeps."""
