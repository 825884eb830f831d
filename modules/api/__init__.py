"""The HTTP API: A1111's /sdapi/v1 routes and Easel's /easel/v1 job routes, mounted by `server.mount_api`.

schema (pydantic models derived from the request dataclasses), convert (payload → typed request, checks),
images (base64 and guarded URLs), errors (A1111 error bodies, body cap), auth (HTTP Basic), extras (resize),
routes_generate / routes_lists / routes_jobs (the routes), server (wiring, CORS, docs).
"""
