# CLI tests: exit codes and messages of the gnarl command for good and bad
# input (tests/integration/cli_expect.sh RC REGEX COMMAND...).  Configs in
# cli_data/ use the fixture plugins only; the shipped configs/*.yaml are
# checked against the real plugins.
set(_cli_dir "${CMAKE_CURRENT_LIST_DIR}")
set(_cli_data "${_cli_dir}/cli_data")
set(_cli_env
  "GNARL_PLUGIN_PATH=${GNARL_FIXTURE_DIR}:${GNARL_BUILD_PLUGIN_DIR}"
  "GNARL_CLI_TEST_SECRET=s3cr3t-value-never-printed")

# gnarl_cli_test(<name> <exit code> <regex> <gnarl args>...)
function(gnarl_cli_test name rc regex)
  add_test(NAME cli_${name}
           COMMAND sh "${_cli_dir}/cli_expect.sh" ${rc} "${regex}" $<TARGET_FILE:gnarl> ${ARGN})
  set_tests_properties(cli_${name} PROPERTIES ENVIRONMENT "${_cli_env}" LABELS cli)
endfunction()

gnarl_cli_test(version 0 "^gnarl [0-9]+\\.[0-9]+\\.[0-9]+ \\(plugin ABI 1\\.1\\)" --version)
gnarl_cli_test(help 0 "commands:" help)
gnarl_cli_test(no_command 2 "usage: gnarl <command>")
gnarl_cli_test(unknown_command 2 "unknown command 'frobnicate'" frobnicate)
gnarl_cli_test(help_unknown 2 "unknown command 'frobnicate'" help frobnicate)
gnarl_cli_test(unknown_option 2 "gnarl config: unknown option --frob" config check --frob)
gnarl_cli_test(set_needs_value 2 "--set needs a value" config check --set)
add_test(NAME cli_help_all COMMAND sh "${_cli_dir}/cli_help_all.sh" $<TARGET_FILE:gnarl>)
set_tests_properties(cli_help_all PROPERTIES ENVIRONMENT "${_cli_env}" LABELS cli)

# config check: OK, and one test per class of bad input.
gnarl_cli_test(config_good 0 "OK: .*good.yaml" config check -c "${_cli_data}/good.yaml")
gnarl_cli_test(config_missing_file 2 "nope.yaml: cannot read the config: No such file"
               config check -c "${_cli_data}/nope.yaml")
gnarl_cli_test(config_malformed 2
  "malformed.yaml:4:10: malformed YAML: mapping values are not allowed"
  config check -c "${_cli_data}/malformed.yaml")
gnarl_cli_test(config_misspelt 2
  "misspelt.yaml:4:3: ppo.gama: unknown key \\(did you mean 'gamma'\\?\\)"
  config check -c "${_cli_data}/misspelt.yaml")
gnarl_cli_test(config_missing_plugin 2
  "missing_plugin.yaml:4:13: rewards.0.plugin: plugin 'fixture_rewrd' not found \\(did you mean 'fixture_reward'\\?\\): no fixture_rewrd.so in .*GNARL_PLUGIN_PATH"
  config check -c "${_cli_data}/missing_plugin.yaml")
gnarl_cli_test(config_wrong_kind 2
  "wrong_kind.yaml:1:15: env.plugin: .*fixture_reward.so: plugin 'fixture_reward' is a reward plugin, but this slot needs an env plugin"
  config check -c "${_cli_data}/wrong_kind.yaml")
gnarl_cli_test(config_wrong_type 2
  "wrong_type.yaml:4:11: ppo.epochs: expected an integer, got 'ten'"
  config check -c "${_cli_data}/wrong_type.yaml")
gnarl_cli_test(config_out_of_range 2
  "out_of_range.yaml:4:10: ppo.gamma: 1.5 is out of range \\(use a value between 0 and 1\\)"
  config check -c "${_cli_data}/out_of_range.yaml")
gnarl_cli_test(config_plugin_param 2
  "plugin_param.yaml:5:14: rewards.0.params.bonnus: unknown key \\(did you mean 'bonus'\\?\\)"
  config check -c "${_cli_data}/plugin_param.yaml")
gnarl_cli_test(config_plugin_abi 2
  "plugin_abi.yaml:4:13: rewards.0.plugin: .*fixture_abi2.so: built for plugin ABI 2.0"
  config check -c "${_cli_data}/plugin_abi.yaml")
gnarl_cli_test(config_set_range 2
  "--set ppo.gamma=2: ppo.gamma: 2 is out of range"
  config check -c "${_cli_data}/good.yaml" --set ppo.gamma=2)
gnarl_cli_test(config_set_unknown 2
  "--set rewards.0.params.bonnus=1: rewards.0.params.bonnus: unknown key \\(did you mean 'bonus'\\?\\)"
  config check -c "${_cli_data}/good.yaml" --set rewards.0.params.bonnus=1)
gnarl_cli_test(config_json_error 2 "\"ok\": false"
  config check --json -c "${_cli_data}/misspelt.yaml")
gnarl_cli_test(config_json_ok 0 "\"ok\": true"
  config check --json -c "${_cli_data}/good.yaml")
gnarl_cli_test(config_show_set 0 "hidden: \\[64, 64\\]"
  config show -c "${_cli_data}/good.yaml" --set policy.hidden=[64,64] --set rewards.0.weight=30)
gnarl_cli_test(config_show_secret 0 "secret_key: \"\\$\\{GNARL_CLI_TEST_SECRET\\}\""
  config show -c "${_cli_data}/good.yaml")
gnarl_cli_test(config_show_secret_json 0 "\"secret_key\": \"\\$\\{GNARL_CLI_TEST_SECRET\\}\""
  config show --json -c "${_cli_data}/good.yaml")
set_tests_properties(cli_config_show_secret cli_config_show_secret_json
  PROPERTIES FAIL_REGULAR_EXPRESSION "s3cr3t")
gnarl_cli_test(config_keys 0 "gamma +float +0.99 +\\[0, 1\\]" config keys)

# plugins list / show
gnarl_cli_test(plugins_list 0 "fixture_reward +reward +1.2.3" plugins list)
set_tests_properties(cli_plugins_list PROPERTIES
  PASS_REGULAR_EXPRESSION "refused .*fixture_abi2.so: built for plugin ABI 2.0")
gnarl_cli_test(plugins_list_json 0 "\"name\": \"fixture_env\"" plugins list --json)
gnarl_cli_test(plugins_show 0 "bonus +float +1.5 +\\[0, 100\\]" plugins show fixture_reward)
gnarl_cli_test(plugins_show_path 0 "fixture_env 0.0.1 \\(env plugin, ABI 1.1\\)"
  plugins show "${GNARL_FIXTURE_DIR}/fixture_env.so")
gnarl_cli_test(plugins_show_json 0 "\"choices\": \\[" plugins show fixture_reward --json)
gnarl_cli_test(plugins_show_missing 2 "plugin 'nope' not found" plugins show nope)
gnarl_cli_test(plugins_show_noentry 2 "fixture_noentry.so: not a gnarl plugin"
  plugins show fixture_noentry)
gnarl_cli_test(plugins_show_short 2 "fixture_short.so: its descriptor is 16 bytes"
  plugins show fixture_short)
gnarl_cli_test(plugins_bad_verb 2 "unknown subcommand 'frob'" plugins frob)

# The shipped configs validate against the real plugins.
file(GLOB _cli_configs CONFIGURE_DEPENDS "${CMAKE_SOURCE_DIR}/configs/*.yaml")
foreach(_c ${_cli_configs})
  get_filename_component(_n ${_c} NAME_WE)
  add_test(NAME cli_shipped_config_${_n}
           COMMAND sh "${_cli_dir}/cli_expect.sh" 0 "^OK: " $<TARGET_FILE:gnarl>
                   config check -c "${_c}")
  set_tests_properties(cli_shipped_config_${_n} PROPERTIES
    ENVIRONMENT "GNARL_PLUGIN_PATH=${GNARL_BUILD_PLUGIN_DIR}" LABELS cli)
endforeach()
