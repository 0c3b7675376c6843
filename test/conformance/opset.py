"""Which ONNX node tests belong to Adjoint's op set, and which of them cannot pass by design.

A test belongs to the op set when every node in its model (subgraphs included) is an ai.onnx op
that Adjoint implements; this takes in the `_expanded` variants whose function body uses only
those ops (and a few other ops' expansions, e.g. celu_expanded, that are built from ours).
"""
import onnx
from onnx import TensorProto

OUR_OPS = frozenset("""
Add Sub Mul Div Neg Abs Exp Log Sqrt Pow Reciprocal Erf Tanh Sigmoid Relu LeakyRelu Elu Clip
Where Equal Less Greater Not Cast Identity Constant Dropout MatMul Gemm Conv MaxPool AveragePool
GlobalAveragePool BatchNormalization LayerNormalization Softmax LogSoftmax Flatten Reshape
Transpose Concat Slice Split Gather Squeeze Unsqueeze Expand ReduceSum ReduceMean ReduceMax Shape
""".split())

# ONNX TensorProto element types the IR carries (compiler/IR/DType.h).
SUPPORTED_ELEM_TYPES = frozenset({TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64,
                                  TensorProto.INT32, TensorProto.BOOL})

def _nodes(graph):
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _nodes(attr.g)
            for g in attr.graphs:
                yield from _nodes(g)


def model_ops(model):
    """(domain, op_type) of every node, subgraphs included."""
    return {(n.domain or "", n.op_type) for n in _nodes(model.graph)}


def main_op(model):
    """The op a node test is about: the single node's type, or the expanded body's ops."""
    ops = sorted(op for _, op in model_ops(model))
    return ops[0] if len(ops) == 1 else "+".join(ops)


def in_op_set(model):
    ops = model_ops(model)
    return bool(ops) and all(d in ("", "ai.onnx") and op in OUR_OPS for d, op in ops)


def _type_problem(type_proto):
    """Why a value of this type cannot be fed to or produced by the IR, or None."""
    which = type_proto.WhichOneof("value")
    if which is None:
        return None  # unknown (e.g. an omitted optional input)
    if which != "tensor_type":
        return f"{which.replace('_type', '')} values"
    elem = type_proto.tensor_type.elem_type
    if elem and elem not in SUPPORTED_ELEM_TYPES:
        return f"{onnx.TensorProto.DataType.Name(elem).lower()} dtype"
    return None


def exclusion_reason(name, model):
    """Why a test of the op set is not expected to pass, or None when it must pass."""
    problems = set()
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference is best effort; the declared types still count
        inferred = model
    g = inferred.graph
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        p = _type_problem(vi.type)
        if p:
            problems.add(p)
    for t in g.initializer:
        if t.data_type not in SUPPORTED_ELEM_TYPES:
            problems.add(f"{TensorProto.DataType.Name(t.data_type).lower()} dtype")
    for node in _nodes(g):
        for attr in node.attribute:
            if node.op_type == "Cast" and attr.name == "to" and attr.i not in SUPPORTED_ELEM_TYPES:
                problems.add(f"{TensorProto.DataType.Name(attr.i).lower()} dtype")
            if attr.type == onnx.AttributeProto.TENSOR and \
                    attr.t.data_type not in SUPPORTED_ELEM_TYPES:
                problems.add(f"{TensorProto.DataType.Name(attr.t.data_type).lower()} dtype")
    return ", ".join(sorted(problems)) if problems else None


# Operands the IR needs as compile-time constants (shapes are static): (op, operand index).
SHAPE_OPERANDS = frozenset({
    ("Reshape", 1), ("Expand", 1), ("Split", 1), ("Squeeze", 1), ("Unsqueeze", 1),
    ("Slice", 1), ("Slice", 2), ("Slice", 3), ("Slice", 4),
    ("ReduceSum", 1), ("ReduceMean", 1), ("ReduceMax", 1), ("ReduceMin", 1), ("ReduceProd", 1),
    ("ReduceL1", 1), ("ReduceL2", 1), ("ReduceLogSum", 1), ("ReduceLogSumExp", 1),
    ("ReduceSumSquare", 1), ("Tile", 1), ("Pad", 1), ("ConstantOfShape", 0), ("OneHot", 1),
    ("TopK", 1), ("Range", 0), ("Range", 1), ("Range", 2),
})


def compile_time_inputs(model, inputs):
    """Names of graph inputs that feed an operand in SHAPE_OPERANDS directly."""
    wanted = set(inputs)
    found = set()
    for node in _nodes(model.graph):
        if node.domain not in ("", "ai.onnx"):
            continue
        for k, name in enumerate(node.input):
            if name in wanted and (node.op_type, k) in SHAPE_OPERANDS:
                found.add(name)
    return found
