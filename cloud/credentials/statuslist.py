"""W3C Bitstring Status List: the revocation and suspension lists the hub keeps and serves.

Each list holds :data:`LIST_SIZE` (131 072) bits; bit 0 is the most
significant bit of byte 0. ``encodedList`` is ``"u"`` + base64url (no
padding) of the GZIP-compressed bits. A credential gets one entry in a
``revocation`` list and one in a ``suspension`` list at indexes drawn with
:mod:`secrets` among the free ones, so an index says nothing about how many
credentials exist or which came before. A list credential is itself signed
(``eddsa-rdfc-2022``) and re-signed whenever a bit changes.

Examples
--------
>>> bits = bytearray(LIST_SIZE // 8); set_bit(bits, 9, True)
>>> decode_list(encode_list(bits))[1], get_bit(decode_list(encode_list(bits)), 9)
(64, True)
"""

from __future__ import annotations

import base64
import gzip
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.credentials.dataintegrity import CREDENTIALS_V2, now_xsd
from cloud.credentials.models import IssuedCredential, StatusList
from cloud.database import utcnow

#: Entries in a list: the specification's minimum, for group privacy.
LIST_SIZE = 131_072
PURPOSES = ("revocation", "suspension")
#: Fill a list to this share before opening the next one (random draws stay cheap and the list stays a crowd).
FILL_LIMIT = 0.5


def encode_list(bits: bytes) -> str:
    """``encodedList``: multibase base64url (``u``, no padding) of the GZIP-compressed bitstring."""
    return "u" + base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).decode().rstrip("=")


def decode_list(encoded: str) -> bytes:
    """The bitstring of an ``encodedList`` (``ValueError`` when it is not one)."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url, starting with 'u'")
    body = encoded[1:]
    try:
        return gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"encodedList is not GZIP-compressed base64url ({exc})") from None


def get_bit(bits: bytes, index: int) -> bool:
    """Bit ``index`` (0 = the most significant bit of byte 0)."""
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def set_bit(bits: bytearray, index: int, value: bool) -> None:
    """Set or clear bit ``index``."""
    if value:
        bits[index // 8] |= 0x80 >> (index % 8)
    else:
        bits[index // 8] &= ~(0x80 >> (index % 8)) & 0xFF


def list_url(public_url: str, list_id: str) -> str:
    """Where the hub serves the status list credential ``list_id``."""
    return f"{public_url}/api/credentials/status/{list_id}"


def _open_list(db: Session, purpose: str) -> StatusList:
    """The newest list of ``purpose`` with room, a new one when all are past :data:`FILL_LIMIT`."""
    lists = list(db.scalars(select(StatusList).where(StatusList.purpose == purpose).order_by(StatusList.id)))
    column = IssuedCredential.revocation_list if purpose == "revocation" else IssuedCredential.suspension_list
    for row in lists:
        used = db.query(column).filter(column == row.id).count()
        if used < row.size * FILL_LIMIT:
            return row
    row = StatusList(id=f"{purpose}-{len(lists) + 1}", purpose=purpose, size=LIST_SIZE,
                     bits=bytes(LIST_SIZE // 8))
    db.add(row)
    db.flush()
    return row


def allocate(db: Session, purpose: str) -> tuple[StatusList, int]:
    """A list of ``purpose`` and a free index in it, drawn at random (flushed, not committed)."""
    row = _open_list(db, purpose)
    index_col = IssuedCredential.revocation_index if purpose == "revocation" else IssuedCredential.suspension_index
    list_col = IssuedCredential.revocation_list if purpose == "revocation" else IssuedCredential.suspension_list
    while True:
        index = secrets.randbelow(row.size)
        taken = db.scalar(select(IssuedCredential.id).where(list_col == row.id, index_col == index))
        if taken is None:
            return row, index


def entry(public_url: str, list_id: str, purpose: str, index: int) -> dict:
    """The ``credentialStatus`` entry of one credential in one list."""
    url = list_url(public_url, list_id)
    return {"id": f"{url}#{index}", "type": "BitstringStatusListEntry", "statusPurpose": purpose,
            "statusListIndex": str(index), "statusListCredential": url}


def set_status(row: StatusList, index: int, value: bool) -> None:
    """Flip one bit of a list; the caller re-signs it (:func:`list_credential`)."""
    bits = bytearray(row.bits)
    set_bit(bits, index, value)
    row.bits, row.updated_at = bytes(bits), utcnow()


def list_credential(public_url: str, issuer: str, row: StatusList) -> dict:
    """The unsigned ``BitstringStatusListCredential`` of a list as it stands."""
    url = list_url(public_url, row.id)
    return {"@context": [CREDENTIALS_V2], "id": url, "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": issuer, "validFrom": now_xsd(),
            "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList",
                                  "statusPurpose": row.purpose, "encodedList": encode_list(row.bits)}}
