# Differential check of moto_launch.py's query patch: on one moto backend,
# random queries (string keys with shared prefixes and non-ASCII, Limit,
# ExclusiveStartKey from earlier pages, both directions, begins_with,
# between, filters, projections, an index) are answered by moto's own
# Table.query and by the patched one; the answers must be identical.
# Run as: python3 query_diff.py <moto_launch.py> [seed queries items]; prints "ok <n>" or fails.
import random
import sys

src = open(sys.argv[1]).read().replace('if __name__ == "__main__":', "if False:")
launch = {"__name__": "moto_launch"}
exec(compile(src, "moto_launch.py", "exec"), launch)

from moto.dynamodb.models import dynamodb_backends  # noqa: E402
from moto.dynamodb.models.table import Table  # noqa: E402

narrowed = [0]
candidates = launch["query_candidates"]


def counting(table, a):
    c = candidates(table, a)
    narrowed[0] += c is not None
    return c


launch["query_candidates"] = counting
original = Table.query
launch["patch"]()
patched = Table.query

b = dynamodb_backends["123456789012"]["eu-north-1"]
b.create_table(
    "t",
    schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    attr=[
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "g", "AttributeType": "S"},
    ],
    throughput=None,
    billing_mode="PAY_PER_REQUEST",
    indexes=None,
    global_indexes=[{"IndexName": "G", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     "Projection": {"ProjectionType": "ALL"}}],
    streams=None,
    sse_specification=None,
    tags=[],
    deletion_protection_enabled=None,
    warm_throughput=None,
)
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
parts = ["A", "B", "C"]
prefixes = ["POA#GIVEN#", "POA#RECEIVED#", "USAGE#", "U", "Ø#", "Z", ""]
for i in range(int(sys.argv[4]) if len(sys.argv) > 4 else 1500):
    sk = rng.choice(prefixes) + "".join(rng.choice("ab0Zé😀#") for _ in range(rng.randint(0, 4))) + "%04d" % i
    item = {"pk": {"S": rng.choice(parts)}, "sk": {"S": sk}, "g": {"S": rng.choice("xy")}}
    if rng.random() < 0.05:
        item["big"] = {"S": "x" * rng.randint(1000, 300000)}
    b.put_item("t", item)


def run(method, kw):
    Table.query = method
    try:
        items, scanned, last = b.query(**kw)
        if last is not None:  # as the client will send it back
            last = {k: v.to_json() if hasattr(v, "to_json") else v for k, v in last.items()}
        return [it.to_json() for it in items], scanned, last, None
    except Exception as e:  # noqa: BLE001 both must fail alike
        return None, None, None, repr(e)
    finally:
        Table.query = patched


n = 0
for _ in range(int(sys.argv[3]) if len(sys.argv) > 3 else 1500):
    kw = dict(
        table_name="t",
        hash_key_dict={"S": rng.choice(parts + ["missing"])},
        range_comparison=None,
        range_value_dicts=[],
        limit=rng.choice([None, 1, 2, 7, 50, 400]),
        exclusive_start_key=None,
        scan_index_forward=rng.choice([True, False]),
        projection_expressions=rng.choice([None, [["pk"], ["sk"]]]),
    )
    r = rng.random()
    if r < 0.35:
        kw["range_comparison"] = "BEGINS_WITH"
        kw["range_value_dicts"] = [{"S": rng.choice(prefixes + ["POA#", "US", "nothing"])}]
    elif r < 0.45:
        kw["range_comparison"] = "BETWEEN"
        kw["range_value_dicts"] = [{"S": "P"}, {"S": "V"}]
    elif r < 0.5:
        kw["filter_expression"] = "g = :g"
        kw["expr_values"] = {":g": {"S": "x"}}
    elif r < 0.55:
        kw["index_name"] = "G"
        kw["hash_key_dict"] = {"S": "x"}
        kw["hash_key_conditions"] = [("g", {"S": "x"})]
    if kw["range_comparison"]:
        kw["range_key_conditions"] = [("sk", kw["range_comparison"], kw["range_value_dicts"])]
    # Page through, as a client does, comparing every page.
    for page in range(6):
        want = run(original, kw)
        got = run(patched, kw)
        n += 1
        if got != want:
            print("MISMATCH", kw, "\nwant", want[1:], len(want[0] or []), "\ngot ", got[1:], len(got[0] or []))
            sys.exit(1)
        if want[2] is None:
            break
        kw["exclusive_start_key"] = want[2]
        if rng.random() < 0.2:  # a start key that is not an item's
            kw["exclusive_start_key"] = dict(want[2], sk={"S": want[2]["sk"]["S"] + "!"})
if narrowed[0] < n // 2:
    print("the patch narrowed only %d of %d queries" % (narrowed[0], n))
    sys.exit(1)
print("ok", n, "narrowed", narrowed[0])
