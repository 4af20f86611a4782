"""Routes of accounts: log-in (throttled), log-out, password change, who am I, user management (hub operators)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from cloud.access import DB, Anyone, Operator
from cloud.accounts import service
from cloud.accounts.schemas import AuthConfig, Me, PasswordChange, Token, UserCreate, UserPublic, UserUpdate
from cloud.errors import Invalid, NotFound

router = APIRouter(prefix="/api")


@router.post("/auth/token", response_model=Token, tags=["auth"],
             summary="Log in with e-mail and password (OAuth2 password form); returns a bearer token",
             responses={401: {"description": "wrong e-mail or password, or inactive user"},
                        429: {"description": "too many failed log-ins from this address; see Retry-After"}})
def login(request: Request, db: DB, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    throttle = request.app.state.login_throttle
    email, address = form.username.strip().lower(), request.client.host if request.client else "unknown"
    wait = throttle.retry_after(email, address)
    if wait > 0:
        seconds = math.ceil(wait)
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many failed log-ins; try again in {seconds} s", headers={"Retry-After": str(seconds)})
    user = service.authenticate(db, form.username, form.password)
    if user is None:
        throttle.failed(email, address)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong e-mail or password, or inactive user",
                            headers={"WWW-Authenticate": "Bearer"})
    throttle.succeeded(email, address)
    token, expires = service.issue_token(db, user, request.app.state.settings.token_ttl_s)
    return Token(access_token=token, expires_at=expires)


@router.post("/auth/password", response_model=Token, tags=["auth"],
             summary="Change your own password; every token of yours is revoked and a new one returned",
             responses={422: {"description": "the current password is wrong, or the new one too weak"},
                        429: {"description": "too many wrong current passwords from this address"}})
def change_password(request: Request, db: DB, who: Anyone, body: PasswordChange) -> Token:
    throttle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(who.email, address)
    if wait > 0:
        seconds = math.ceil(wait)
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many wrong passwords; try again in {seconds} s", headers={"Retry-After": str(seconds)})
    user = service.user_of(db, who)
    if not service.verify_password(user.password_hash, body.current_password):
        throttle.failed(who.email, address)
        raise Invalid("current_password: wrong password")
    service.update_user(db, user, password=body.new_password)  # revokes every token of the user
    token, expires = service.issue_token(db, user, request.app.state.settings.token_ttl_s)
    return Token(access_token=token, expires_at=expires)


@router.get("/auth/config", response_model=AuthConfig, tags=["auth"],
            summary="How to log in here (mode; whether the demo log-in is offered)")
def auth_config(request: Request) -> AuthConfig:
    mode = request.app.state.settings.mode
    return AuthConfig(mode=mode, demo_login=mode == "demo")


@router.post("/auth/demo-token", response_model=Token, tags=["auth"],
             summary="Demo mode only: a token of the demo mentor, without a password",
             responses={404: {"description": "not in demo mode"}})
def demo_token(request: Request, db: DB) -> Token:
    settings = request.app.state.settings
    user = service.user_by_email(db, service.DEMO_MENTOR) if settings.mode == "demo" else None
    if user is None:
        raise NotFound("the demo log-in exists only in demo mode")
    token, expires = service.issue_token(db, user, settings.token_ttl_s)
    return Token(access_token=token, expires_at=expires)


@router.post("/auth/logout", status_code=204, tags=["auth"], summary="Revoke the bearer token used")
def logout(db: DB, who: Anyone) -> None:
    service.revoke_token(db, who.token)


@router.get("/auth/me", response_model=Me, tags=["auth"], summary="The caller, their roles and scope")
def me(who: Anyone) -> Me:
    s = who.scope
    return Me(id=who.user_id, email=who.email, roles=sorted(who.roles, key=lambda r: r.value),
              all_sites=s.everything, sites=sorted(s.sites), assets=sorted(s.assets))


@router.get("/users", response_model=list[UserPublic], tags=["users"], summary="Every user (hub operators)")
def users(db: DB, who: Operator) -> list[UserPublic]:
    return [UserPublic.of(u) for u in service.list_users(db)]


@router.post("/users", response_model=UserPublic, status_code=201, tags=["users"],
             summary="Create a user with roles and site memberships (hub operators)",
             responses={409: {"description": "e-mail taken or unknown site"}})
def create_user(db: DB, who: Operator, body: UserCreate) -> UserPublic:
    return UserPublic.of(service.create_user(db, body.email, body.password, body.roles, body.display_name,
                                             body.sites))


@router.patch("/users/{user_id}", response_model=UserPublic, tags=["users"],
              summary="Change a user's name, password, roles, sites or active flag (hub operators)",
              responses={404: {"description": "no such user"}, 409: {"description": "unknown site"}})
def update_user(db: DB, who: Operator, user_id: int, body: UserUpdate) -> UserPublic:
    user = service.get_user(db, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return UserPublic.of(service.update_user(db, user, **body.model_dump(exclude_unset=True)))
