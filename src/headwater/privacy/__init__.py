"""Personal data: sealed fields under per-subject keys, erasure, and the audit trail.

The core here imports no web framework; ``headwater.privacy._routes`` is the thin
HTTP face and ``headwater.privacy._module`` wires it into an app.
"""

from headwater.domain._personal import Personal, SubjectCipher
from headwater.privacy._audit import AuditEntry, AuditPage, AuditQuery, AuditTrail, to_csv
from headwater.privacy._cipher import PersonalDataCipher
from headwater.privacy._erasure import (
    Eraser,
    ErasureListener,
    ErasureResult,
    SubjectErased,
    erasure_stream,
)
from headwater.privacy._keys import SubjectKeys
from headwater.privacy._listeners import CacheEraser, subject_tag

__all__ = [
    "AuditEntry",
    "AuditPage",
    "AuditQuery",
    "AuditTrail",
    "CacheEraser",
    "Eraser",
    "ErasureListener",
    "ErasureResult",
    "Personal",
    "PersonalDataCipher",
    "SubjectCipher",
    "SubjectErased",
    "SubjectKeys",
    "erasure_stream",
    "subject_tag",
    "to_csv",
]
