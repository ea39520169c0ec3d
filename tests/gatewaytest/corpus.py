"""Where the shared interoperability corpus lives: `../shared/corpus` beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("ASIOINTITILI_CORPUS", REPO.parent / "shared" / "corpus"))
MIME = CORPUS / "mime"
SMIME = CORPUS / "smime" / "thunderbird"
PGP = CORPUS / "pgp" / "thunderbird"
