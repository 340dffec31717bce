"""Personal data: sealed fields under per-subject keys, erasure, and the audit trail.

The core here imports no web framework; ``headwater.privacy.routes`` is the thin
HTTP face and ``headwater.privacy.module`` wires it into an app.
"""

from headwater.domain.personal import Personal, SubjectCipher
from headwater.privacy.audit import AuditEntry, AuditPage, AuditQuery, AuditTrail, to_csv
from headwater.privacy.cipher import PersonalDataCipher
from headwater.privacy.erasure import (
    Eraser,
    ErasureListener,
    ErasureResult,
    SubjectErased,
    erasure_stream,
)
from headwater.privacy.keys import SubjectKeys
from headwater.privacy.listeners import CacheEraser, subject_tag

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
