# Starts moto's server (the same as moto_server) with one change that makes
# the emulator behave like DynamoDB: a TransactWriteItems costs what it
# touches. See transact.go for why; emulator.go runs this file.
#
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
# Exit status 3 (before serving) means the installed moto is not the shape
# this patch expects; the caller then runs plain moto_server.

import copy
import inspect
import sys

PATCH_FAILED = 3


def fail(reason):
    sys.stderr.write("moto_launch: cannot patch moto: %s\n" % reason)
    sys.exit(PATCH_FAILED)


try:
    import moto
    from moto.dynamodb import models as ddb
    from moto.dynamodb.models.dynamo_type import DynamoType
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


def patch():
    check_shape()
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
    sys.stderr.write("moto_launch: moto %s, item-level transaction rollback\n" % moto.__version__)
    main(sys.argv[1:])
