

# ---------------------------------------------------------------- entry point

def verify(answer, world, task):
    """{"pass", "score", "reason", "constraint"} for a diff answering a code task."""
    try:
        return verify_diff(answer, world, task)
    except Exception as e:  # a verifier that breaks must fail the answer, never pass it
        return _fail("error", "%s: %s" % (type(e).__name__, e))
