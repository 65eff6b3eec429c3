# Starts moto's server (the same as moto_server) with two changes that make
# the emulator cost what DynamoDB costs: a TransactWriteItems and a Query of
# a table's partition cost what they touch, not the whole table. See
# motoLauncher in launch.go for why; emulator.go runs this file.
#
# 1. Transactions.
# moto 5's DynamoDBBackend.transact_write_items deep-copies every table the
# transaction names before it starts, so that it can put the copy back if an
# action fails: every transaction costs time in proportion to the whole table
# (one three-put transaction on a 100,000-item table: ~23 s). Here the
# backup covers only the items the transaction names: before the original
# method runs, each named item is deep-copied (or noted absent); the
# table-wide deepcopy is made a no-op for Table objects; on any exception the
# named items are put back exactly (or deleted) and the exception re-raised.
# The emulator's proxy lets one DynamoDB request through at a time, so
# nothing else writes to those items while a transaction runs.
#
# 2. Queries. Table.query (no index) walks every item of the table to find
# the partition, sorts the partition with Python-level comparisons, skips
# the items before ExclusiveStartKey one by one, and only then applies the
# Limit: every page costs time in proportion to the table plus the
# partition. For a query on a string hash key and a string sort key, with no
# range condition or begins_with, query_candidates hands the original method
# (through all_items, for this thread and this call only) only the items its
# loop can look at: the partition, sorted as moto sorts it (a string sort
# key orders by the string, as DynamoType does), after ExclusiveStartKey
# (found by bisection), the begins_with block, and at most Limit + 1 of them
# (the one after the Limit is what makes moto return LastEvaluatedKey). The
# original method still does all the filtering, limits, sizes, projections
# and keys: the answer is the same, only the items it would have skipped
# over are not offered. Other queries run unchanged.
#
# Exit status 3 (before serving) means the installed moto is not the shape
# this patch expects; the caller then runs plain moto_server.

import bisect
import copy
import inspect
import sys
import threading

PATCH_FAILED = 3


def fail(reason):
    sys.stderr.write("moto_launch: cannot patch moto: %s\n" % reason)
    sys.exit(PATCH_FAILED)


try:
    import moto
    from moto.dynamodb import models as ddb
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.table import Table
    from moto.server import main
except Exception as e:  # noqa: BLE001 any import problem means: do not patch
    fail("import: %r" % (e,))


def check_shape():
    version = getattr(moto, "__version__", "")
    if not version.startswith("5."):
        fail("moto %s, the patch expects 5.x" % version)
    if getattr(ddb, "copy", None) is not copy:
        fail("moto.dynamodb.models no longer imports copy")
    method = getattr(ddb.DynamoDBBackend, "transact_write_items", None)
    if method is None:
        fail("DynamoDBBackend.transact_write_items is gone")
    params = list(inspect.signature(method).parameters)
    if params != ["self", "transact_items"]:
        fail("transact_write_items%s" % (params,))
    src = inspect.getsource(method)
    for needle in (
        "copy.deepcopy(",
        "self.tables[table_name] = original_table_state[table_name]",
    ):
        if needle not in src:
            fail("transact_write_items no longer contains %r" % needle)
    put = inspect.getsource(Table.put_item)
    for needle in (
        "self.items[hash_value][range_value] = item",
        "self.items[hash_value] = item",
    ):
        if needle not in put:
            fail("Table.put_item no longer contains %r" % needle)
    # Secondary indexes are computed from table.items on every query: no
    # index storage to restore.
    for cls in ddb.GlobalSecondaryIndex.__mro__:
        if cls.__module__.startswith("moto.dynamodb") and "self.items" in inspect.getsource(cls):
            fail("%s now stores items" % cls.__name__)


def check_query_shape():
    src = inspect.getsource(Table.query)
    for needle in (
        "for item in self.all_items()",
        "possible_results.sort(key=lambda item: item.range_key)",
        "processing_previous_page = exclusive_start_key is not None",
        "reached_length_limit = len(results) == limit",
        "reached_size_limit = (result_size + result.size()) > RESULT_SIZE_LIMIT",
        "if not range_comparison and not filter_kwargs:",
    ):
        if needle not in src:
            fail("Table.query no longer contains %r" % needle)
    if src.count("self.all_items()") != 2:
        fail("Table.query calls all_items %d times" % src.count("self.all_items()"))
    if table_module.RESULT_SIZE_LIMIT != 1000000:
        fail("RESULT_SIZE_LIMIT is %r" % table_module.RESULT_SIZE_LIMIT)
    attrs = inspect.signature(Table._generate_attr_to_sort_by)
    if list(attrs.parameters) != ["self", "hash_key_attrs", "range_key_attrs"]:
        fail("_generate_attr_to_sort_by%s" % (list(attrs.parameters),))


class CopyShim:
    """The copy module, except that deepcopy returns a Table unchanged."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(x, memo=None):
        if isinstance(x, Table):
            return x
        return copy.deepcopy(x, memo)


def named_keys(backend, transact_items):
    """(table, hash, range) of every item the transaction names, in order.
    Actions whose table or key cannot be read are skipped: moto cannot
    write them either (it fails them before writing)."""
    keys = []
    for entry in transact_items:
        if not isinstance(entry, dict):
            continue
        for op in entry.values():
            if not isinstance(op, dict):
                continue
            try:
                table = backend.get_table(op.get("TableName"))
                attrs = op["Item"] if "Item" in op else op["Key"]
                h = DynamoType(attrs[table.hash_key_attr])
                r = None
                if table.range_key_attr is not None:
                    r = DynamoType(attrs[table.range_key_attr])
            except Exception:  # noqa: BLE001 see docstring
                continue
            keys.append((table, h, r))
    return keys


def snapshot(keys):
    saved = []
    for table, h, r in keys:
        had_hash = h in table.items  # items is a defaultdict: never index it blindly
        if r is None:
            cur = table.items.get(h)
        else:
            cur = table.items[h].get(r) if had_hash else None
        saved.append((table, h, r, had_hash, copy.deepcopy(cur)))
    streams = {}
    for table, _, _, _, _ in saved:
        if table.stream_shard is not None and id(table) not in streams:
            streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))
    return saved, streams


def restore(saved, streams):
    # Reversed: when a key is named twice, the first snapshot (taken before
    # anything ran) is the one left in place.
    for table, h, r, had_hash, item in reversed(saved):
        if r is None:
            if item is None:
                table.items.pop(h, None)
            else:
                table.items[h] = item
            continue
        if item is not None:
            table.items[h][r] = item
            continue
        if h in table.items:
            table.items[h].pop(r, None)
            if not had_hash and not table.items[h]:
                del table.items[h]
    # A rolled-back transaction leaves no stream records.
    for shard, n in streams.values():
        del shard.items[n:]


# Larger than any item moto stores (LimitedSizeDict refuses > 405,000 bytes).
MAX_ITEM_SIZE = 500000

query_hint = threading.local()


def is_string(v):
    return isinstance(v, DynamoType) and v.type == "S"


def block_is_small(block):
    """Whether no item after block can end moto's page by size (its loop
    checks the size of every item it meets, matching or not)."""
    size = 0
    for it in block:
        size += it.size()
        if size + MAX_ITEM_SIZE > table_module.RESULT_SIZE_LIMIT:
            return False
    return True


def query_candidates(table, a):
    """The items, in ascending sort-key order, that Table.query's loop can
    look at for the call with arguments a, or None to run it unchanged."""
    limit = a["limit"]
    if (
        a["index_name"]
        or a["filter_kwargs"]
        or not is_string(a["hash_key"])
        or table.range_key_attr is None
        or table.hash_key_type != "S"
        or table.range_key_type != "S"
        or len(a["range_key_conditions"] or []) > 1
        or (limit is not None and (not isinstance(limit, int) or limit < 1))
    ):
        return None
    conds = a["range_key_conditions"]
    if conds and conds[0][0] != table.range_key_attr:
        return None
    comparison = a["range_comparison"]
    prefix = None
    if comparison == "BEGINS_WITH":
        objs = a["range_objs"]
        if len(objs) != 1 or not is_string(objs[0]):
            return None
        prefix = objs[0].value
    elif comparison:
        return None
    partition = table.items.get(a["hash_key"])
    if not partition:
        return []
    forward = a["scan_index_forward"] is not False
    esk = a["exclusive_start_key"]
    start = None
    if esk is not None:
        start_hash = esk.get(table.hash_key_attr)
        start_range = esk.get(table.range_key_attr)
        if (
            not isinstance(start_hash, dict)
            or not isinstance(start_range, dict)
            or list(start_hash) != ["S"]
            or list(start_range) != ["S"]
            or start_hash["S"] != a["hash_key"].value
        ):
            return None
        start = start_range["S"]
    if prefix is not None:
        # Usually the begins_with block is small and the whole answer:
        # find it without sorting the partition (the same test as below).
        block = [
            it
            for it in partition.values()
            if it.range_key.value.startswith(prefix)
            and (start is None or (it.range_key.value > start if forward else it.range_key.value < start))
        ]
        if limit is None or len(block) < limit:
            block.sort(key=lambda it: it.range_key.value)
            if block_is_small(block):
                return block
    items = sorted(partition.values(), key=lambda it: it.range_key.value)
    keys = [it.range_key.value for it in items]
    lo, hi = 0, len(items)
    if start is not None:
        # moto skips the items at or before the start key in scan order.
        if forward:
            lo = bisect.bisect_right(keys, start, lo, hi)
        else:
            hi = bisect.bisect_left(keys, start, lo, hi)
    if prefix is not None:
        # Items before the block never match and, with nothing in the
        # results yet, never end the page: drop them.
        first = bisect.bisect_left(keys, prefix, lo, hi)
        last = first
        while last < hi and keys[last].startswith(prefix):
            last += 1
        if forward:
            lo = first
        else:
            hi = last
        if limit is None or last - first < limit:
            # The page can only end after the block by size: keep the rest
            # unless the block is small enough that no item can do that.
            if block_is_small(items[first:last]):
                return items[first:last]
            return items[lo:hi]
    if limit is not None:
        # moto ends the page when it meets item Limit + 1.
        if forward:
            hi = min(hi, lo + limit + 1)
        else:
            lo = max(lo, hi - limit - 1)
    return items[lo:hi]


def patch_query():
    check_query_shape()
    original_query = Table.query
    original_all_items = Table.all_items
    signature = inspect.signature(original_query)

    def all_items(self):
        if getattr(query_hint, "table", None) is self:
            return list(query_hint.items)
        return original_all_items(self)

    def query(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        candidates = query_candidates(self, bound.arguments)
        if candidates is None:
            return original_query(self, *args, **kwargs)
        query_hint.table, query_hint.items = self, candidates
        try:
            return original_query(self, *args, **kwargs)
        finally:
            query_hint.table = query_hint.items = None

    query.__doc__ = original_query.__doc__
    Table.all_items = all_items
    Table.query = query


def patch():
    check_shape()
    patch_query()
    ddb.copy = CopyShim()
    original = ddb.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        saved, streams = snapshot(named_keys(self, transact_items))
        try:
            return original(self, transact_items)
        except BaseException:
            restore(saved, streams)
            raise

    transact_write_items.__doc__ = original.__doc__
    ddb.DynamoDBBackend.transact_write_items = transact_write_items


if __name__ == "__main__":
    patch()
    sys.stderr.write("moto_launch: moto %s, item-level transaction rollback, partition-sized queries\n" % moto.__version__)
    main(sys.argv[1:])
