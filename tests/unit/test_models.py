"""Every architecture and variant builds, sizes grow with the variant, the TCN and TCN+Attention are causal and
cover the window, and the ONNX export matches PyTorch with a dynamic batch axis."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from atb.errors import UsageError
from atb.models import registry
from atb.models.cnn_lstm import CNNLSTM, CNNLSTMConfig
from atb.models.export import check_parity, export_onnx
from atb.models.factory import build_model, count_parameters, model_config
from atb.models.registry import VARIANTS, names
from atb.models.tcn import ResidualBlock

ARCHITECTURES = names()

N_FEATURES, LENGTH = 17, 60


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_parameter_counts_increase_with_the_variant(architecture):
    counts = [count_parameters(build_model(architecture, model_config(architecture, v, N_FEATURES, LENGTH)))
              for v in VARIANTS]
    assert counts[0] < counts[1] < counts[2], counts


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_shape(architecture, variant):
    model = build_model(architecture, model_config(architecture, variant, N_FEATURES, LENGTH)).eval()
    assert model(torch.randn(5, LENGTH, N_FEATURES)).shape == (5,)


@pytest.mark.parametrize("length", [10, 60, 120, 300])
def test_tcn_receptive_field_covers_the_window(length):
    cfg = model_config("tcn", "default", N_FEATURES, length)
    assert cfg["receptive_field"] >= length


def test_tcn_is_causal_within_the_window():
    torch.manual_seed(0)
    model = build_model("tcn", model_config("tcn", "lightweight", N_FEATURES, LENGTH)).eval()
    x = torch.randn(1, LENGTH, N_FEATURES)
    # The block outputs at time t must not depend on inputs after t.
    h = model.blocks(x.transpose(1, 2).unsqueeze(2))
    x2 = x.clone()
    x2[:, 40:] += 5.0
    h2 = model.blocks(x2.transpose(1, 2).unsqueeze(2))
    assert torch.allclose(h[..., :40], h2[..., :40])
    assert not torch.allclose(h[..., 40:], h2[..., 40:])


def test_tcn_attention_is_causal_within_the_window():
    torch.manual_seed(0)
    model = build_model("tcn_attention", model_config("tcn_attention", "lightweight", N_FEATURES, LENGTH)).eval()
    assert isinstance(model.blocks[0], ResidualBlock)  # the TCN's own blocks, not a copy
    x = torch.randn(1, LENGTH, N_FEATURES)
    x2 = x.clone()
    x2[:, 40:] += 5.0
    with torch.no_grad():
        (h, context), (h2, context2) = model.states(x), model.states(x2)
        # Encoder states and attention contexts at step t must not depend on inputs after t ...
        assert torch.allclose(h[:, :40], h2[:, :40]) and torch.allclose(context[:, :40], context2[:, :40])
        assert not torch.allclose(context[:, 40:], context2[:, 40:])
        # ... and it is the mask that keeps them so: without it the early contexts see the change.
        model.attention.mask.zero_()
        assert not torch.allclose(model.states(x)[1][:, :40], model.states(x2)[1][:, :40])
    assert "attention.mask" not in model.state_dict()  # rebuilt from the config, not saved with the weights


def test_unknown_choices_are_usage_errors():
    with pytest.raises(UsageError, match="unknown model type"):
        model_config("transformer", "default", N_FEATURES, LENGTH)
    with pytest.raises(UsageError, match="unknown model variant"):
        model_config("tcn", "huge", N_FEATURES, LENGTH)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_onnx_export_parity_and_dynamic_batch(architecture, tmp_path):
    torch.manual_seed(1)
    model = build_model(architecture, model_config(architecture, "lightweight", N_FEATURES, 30)).eval()
    path = tmp_path / "model.onnx"
    opset = export_onnx(model, torch.randn(2, 30, N_FEATURES), path)
    assert opset >= 17
    for batch in (1, 7, 64):
        windows = np.random.default_rng(batch).normal(size=(batch, 30, N_FEATURES)).astype(np.float32)
        assert check_parity(path, model, windows) <= 1e-4


def test_cnn_lstm_pooling_keeps_the_newest_time_step_with_an_odd_length():
    # Kernel size 1 isolates the pooling: with a wider kernel the newest bar also leaks into its
    # neighbour's convolution, which hid the bug (floor-mode pooling dropped the newest bar's own step).
    torch.manual_seed(0)
    model = CNNLSTM(CNNLSTMConfig(n_features=N_FEATURES, conv_channels=(8,), kernel_size=1, lstm_hidden=8,
                                  lstm_layers=1, dense=4)).eval()
    x = torch.randn(1, 61, N_FEATURES)
    x2 = x.clone()
    x2[:, -1] += 3.0
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x2))
        assert model.extractor(x.transpose(1, 2)).shape[-1] == 31  # ceil(61 / 2): one step per pair, and the last


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_newest_time_step_reaches_the_output_with_an_odd_length(architecture):
    torch.manual_seed(0)
    model = build_model(architecture, model_config(architecture, "lightweight", N_FEATURES, 61)).eval()
    x = torch.randn(1, 61, N_FEATURES)
    x2 = x.clone()
    x2[:, -1] += 3.0
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x2))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_onnx_parity_with_an_odd_sequence_length(architecture, tmp_path):
    torch.manual_seed(2)
    model = build_model(architecture, model_config(architecture, "default", N_FEATURES, 61)).eval()
    path = tmp_path / "model.onnx"
    export_onnx(model, torch.randn(2, 61, N_FEATURES), path)
    windows = np.random.default_rng(0).normal(size=(5, 61, N_FEATURES)).astype(np.float32)
    assert check_parity(path, model, windows) <= 1e-4


def test_the_table_names_every_architecture_without_importing_torch():
    code = ("import sys; import atb.cli.main; from atb.models import registry; "
            "print(','.join(registry.names())); print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.split() == [",".join(ARCHITECTURES), "False"]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_each_module_declares_its_spec(architecture):
    spec = registry.load(architecture)
    assert tuple(spec.variants) == VARIANTS
    assert set(spec.reported) <= set(model_config(architecture, "default", N_FEATURES, LENGTH))


def test_the_table_has_one_baseline_and_unique_names():
    assert [a.name for a in registry.architectures() if a.baseline] == ["cnn_lstm"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.get("tcn"))
    with pytest.raises(ValueError, match="already a baseline"):
        registry.register(registry.Architecture("other", "x", "Other", "k", baseline=True))
    assert registry.names() == ARCHITECTURES


@pytest.mark.parametrize("architecture", names())
def test_a_shipped_model_onnx_carries_no_trace_of_the_training_machine(architecture, tmp_path):
    import onnx

    model = build_model(architecture, model_config(architecture, "lightweight", 17, 60)).eval()
    path = tmp_path / "model.onnx"
    export_onnx(model, torch.randn(2, 60, 17), path)
    raw = path.read_bytes()
    for trace in {sys.prefix, str(Path.home()), str(Path(__file__).resolve().parents[2]), "site-packages",
                  "stack_trace", ".py:"}:
        assert trace.encode() not in raw, f"{architecture}: model.onnx contains {trace!r}"
    graph = onnx.load(str(path))
    assert not any(node.metadata_props or node.doc_string for node in graph.graph.node)
    assert {o.domain for o in graph.opset_import} <= {"", "ai.onnx"}


def test_causal_padding_is_folded_into_the_convolutions(tmp_path):
    """The TorchScript exporter writes each causal pad as shape ops + Pad; export folds them into the Conv
    (the difference between 0.09 and 0.05 ms for one window of the TCN)."""
    import onnx

    model = build_model("tcn", model_config("tcn", "default", 17, 60)).eval()
    export_onnx(model, torch.randn(2, 60, 17), tmp_path / "tcn.onnx")
    ops = [node.op_type for node in onnx.load(str(tmp_path / "tcn.onnx")).graph.node]
    assert "Pad" not in ops and ops.count("Conv") == 9, sorted(set(ops))
