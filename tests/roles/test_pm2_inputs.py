"""The pm2 role refuses bad input before it changes anything."""


def test_writable_paths_must_be_absolute(run_role):
    run_role("pm2", {"pm2_app_writable_paths": ["uploads"]}).assert_rejected(
        "pm2_app_writable_paths"
    )


def test_ecosystem_file_name_is_checked(run_role):
    run_role("pm2", {"pm2_ecosystem_file": "/etc/mc/ecosystem.js"}).assert_rejected(
        "pm2_ecosystem_file", ".config.js"
    )


def test_memory_limit_form_is_checked(run_role):
    run_role("pm2", {"pm2_max_memory_restart": "lots"}).assert_rejected("pm2_max_memory_restart")


def test_instances_type_is_checked(run_role):
    run_role("pm2", {"pm2_instances": "many"}).assert_rejected("pm2_instances")


def test_cluster_scheduling_is_one_of_the_policies(run_role):
    run_role("pm2", {"pm2_cluster_scheduling": "random"}).assert_rejected(
        "pm2_cluster_scheduling", "random"
    )


def test_crash_loop_limits_are_checked(run_role):
    run_role("pm2", {"pm2_min_uptime": 10}).assert_rejected("pm2_min_uptime", "1000")
    run_role("pm2", {"pm2_max_restarts": 0}).assert_rejected("pm2_max_restarts")
