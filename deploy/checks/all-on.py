#!/usr/bin/env python3
"""Write deploy/template.yaml with every optional part switched on.

checkov evaluates a template's Conditions with the parameters' defaults and
skips resources whose condition is false, so the OpenSearch domain, the KCL
consumer, the partition and aggregate functions and their streams would go
unchecked. deploy-check runs checkov on the template as it is and on this
variant. Usage: all-on.py TEMPLATE OUTDIR (the statemachines folder is copied).
"""
import re
import shutil
import sys
from pathlib import Path

ON = {
    "PartitionEnabled": '"true"',
    "ConsumerEnabled": '"true"',
    "OpenSearchMode": "create",
    "AggregateSourceStreamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/other-logs",
    "ConsumerImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/gannet:latest",
    "OpenSearchAdminRoleArn": "arn:aws:iam::123456789012:role/gannet-admin",
    "WebhookSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:gannet-webhook",
    "AlertEmail": "security@example.com",
}


def main() -> int:
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    text = src.read_text()
    for name, value in ON.items():
        pat = re.compile(r"(^  %s:\n(?:    .*\n)*?    Default: ).*$" % re.escape(name), re.M)
        text, n = pat.subn(lambda m: m.group(1) + value, text)
        if n != 1:
            print(f"all-on.py: parameter {name} with a Default not found", file=sys.stderr)
            return 1
    out.mkdir(parents=True, exist_ok=True)
    (out / src.name).write_text(text)
    shutil.copytree(src.parent / "statemachines", out / "statemachines", dirs_exist_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
