# Starts the installed echo_server with an out-of-tree backend (by path) and checks,
# with a real client, that it echoes. Run as: cmake -DSERVER=... -DBACKEND=... -P this
find_program(NC nc REQUIRED)
execute_process(COMMAND sh -c "
  log=$(mktemp); \"${SERVER}\" --port=0 --thread-handling=\"${BACKEND}\" 2>\"$log\" & pid=$!; \
  for i in $(seq 1 100); do grep -q 'listening on' \"$log\" && break; sleep 0.1; done; \
  port=$(sed -n 's/.*listening on [^ ]*:\\([0-9]*\\).*/\\1/p' \"$log\" | head -n1); \
  reply=$(printf 'out of tree\\n' | timeout 10 ${NC} -N 127.0.0.1 \"$port\"); \
  kill -TERM $pid; wait $pid; status=$?; cat \"$log\"; rm -f \"$log\"; \
  test \"$reply\" = 'out of tree' && test $status -eq 0"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the out-of-tree backend did not serve the echo client")
endif()
