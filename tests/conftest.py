"""Shared test settings."""

import os

# Sleep rather than spin while waiting for other threads: when tests share the two
# cores with a server or a training run, spinning threads slow everyone down badly.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

# Tests use tiny models: one thread is as fast, and leaves the other core free.
torch.set_num_threads(1)
