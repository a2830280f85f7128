# Episode summaries (core/summaries.c) against the `s3` fixture of
# storage.cmake (the Ceph gateway on 127.0.0.1, stopped and restarted by
# the test through tests/s3/gateway.sh), and their benchmark: push cost
# and write rates to local disk and to the gateway (prints numbers).
# Both programs use storage.cmake's gnarl_s3_test (fixture, resource lock,
# skip code 77, GNARL_S3_ENV) and the core library.
if(GNARL_HAVE_CMOCKA AND TARGET s3 AND COMMAND gnarl_s3_test)
  gnarl_s3_test(summaries_s3 summaries_s3_test)
  target_link_libraries(summaries_s3_test PRIVATE gnarl_core)
  gnarl_s3_test(summaries_s3_bench summaries_bench)
  target_link_libraries(summaries_bench PRIVATE gnarl_core)
endif()
