"""HTTP Basic authentication for every API, job and docs route (`--api-auth u:p[,u2:p2]`)."""
from __future__ import annotations

import secrets
from collections.abc import Sequence

from fastapi import Depends, HTTPException
from fastapi.security import HTTPBasic, HTTPBasicCredentials


def basic_auth(credentials: Sequence[tuple[str, str]]):
    """A FastAPI dependency accepting any of `credentials`; compares in constant time."""
    scheme = HTTPBasic(auto_error=False)
    pairs = [(u.encode(), p.encode()) for u, p in credentials]

    def check(given: HTTPBasicCredentials | None = Depends(scheme)) -> str:
        if given is not None:
            user, password = given.username.encode(), given.password.encode()
            ok = False
            for good_user, good_password in pairs:  # no early exit: timing says nothing about which user
                ok |= secrets.compare_digest(user, good_user) & secrets.compare_digest(password, good_password)
            if ok:
                return given.username
        raise HTTPException(status_code=401, detail="authentication required (HTTP Basic, --api-auth)",
                            headers={"WWW-Authenticate": "Basic"})

    return check
