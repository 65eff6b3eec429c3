#!/usr/bin/env python3
"""Checks template.yaml the way `sam build`/`sam deploy` would see it.

1. cfn-lint on the SAM template itself.
2. aws-sam-translator turns it into plain CloudFormation (local CodeUri values
   replaced by an s3:// placeholder first, as `sam package` would), and
   cfn-lint checks that output too.
Exits non-zero on the first failure.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class _Loader:
    def load(self):
        return {}


def main(path):
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-north-1")
    lint = subprocess.run(["cfn-lint", path])
    if lint.returncode != 0:
        print(f"cfn-lint failed on {path}", file=sys.stderr)
        return 1
    with open(path) as f:
        tmpl = yaml_parse(f.read())
    packaged = copy.deepcopy(tmpl)
    for res in packaged.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = "s3://placeholder-bucket/code.zip"
    try:
        cfn = transform(packaged, {}, _Loader())
    except Exception as e:  # the translator raises its own exception types
        print(f"aws-sam-translator failed: {e}", file=sys.stderr)
        return 1
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        json.dump(cfn, out, indent=1, default=str)
        out_path = out.name
    try:
        lint = subprocess.run(["cfn-lint", out_path])
    finally:
        os.unlink(out_path)
    if lint.returncode != 0:
        print("cfn-lint failed on the translated template", file=sys.stderr)
        return 1
    kinds = sorted({r["Type"] for r in cfn["Resources"].values()})
    print(f"template ok: {len(cfn['Resources'])} CloudFormation resources ({', '.join(kinds)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
