"""The nodejs role refuses bad input before it changes anything."""


def test_source_choice_is_checked(run_role):
    run_role("nodejs", {"nodejs_source": "snap"}).assert_rejected("nodejs_source")


def test_odd_nodesource_major_is_refused(run_role):
    run_role(
        "nodejs", {"nodejs_source": "nodesource", "nodejs_nodesource_major": 23}
    ).assert_rejected("nodejs_nodesource_major")


def test_relative_cafile_is_refused(run_role):
    run_role("nodejs", {"nodejs_npm_cafile": "certs/ca.pem"}).assert_rejected("nodejs_npm_cafile")
