"""`atb dev ...`: developer checks."""

from __future__ import annotations

import typer

app = typer.Typer(help="Developer checks (GPU, environment).", no_args_is_help=True)


@app.command("gpu-check")
def gpu_check() -> None:
    """Report whether training can use a CUDA GPU (exit 0 either way)."""
    import torch

    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            print(
                f"✓ GPU available: {props.name} (CUDA {torch.version.cuda}, "
                f"{props.total_memory / 2**30:.1f} GiB, device cuda:{index})"
            )
        print(f"  torch {torch.__version__}; training with --device auto will use cuda:0")
    else:
        print("⚠ No GPU detected - training will use CPU")
        print(f"  torch {torch.__version__} ({torch.get_num_threads()} CPU threads)")
