"""What every command shares: the data root, the tenants in it, and JSON output."""

import json
import os

from .. import ROOT
from ..tenants import Tenants


def data_root(args) -> str:
    return args.data or os.environ.get("CODEB_DATA") or os.path.join(ROOT, "App_Data")


def tenants(args) -> Tenants:
    return Tenants(data_root(args))


def out(doc) -> None:
    print(json.dumps(doc, indent=2, ensure_ascii=False))
