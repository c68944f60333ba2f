"""AUTOMATIC1111's web UI API (/sdapi/v1) on craftgen's jobs.

txt2img, img2img and extra-single-image each become one ordinary job (queued, batched, charged
and listed in /v1/jobs like any other) and answer, as A1111 does, once it is finished; progress,
interrupt and skip act on the caller's own jobs, never anyone else's. HTTP Basic with an API
key as the password (A1111's --api-auth) and Bearer keys both sign in.
"""
