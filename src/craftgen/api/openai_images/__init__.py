"""OpenAI's Images API on craftgen's jobs: POST /v1/images/generations, /edits and /variations.

Each request becomes one ordinary job (queued, batched, charged and listed in /v1/jobs like any
other), and the answer waits for it, in OpenAI's shapes and with OpenAI's error body, so the
official SDKs and the apps built on them work by changing their base URL.
"""
