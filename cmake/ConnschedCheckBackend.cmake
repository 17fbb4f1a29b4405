# A backend's smoke test, run by the CTest tests connsched_add_backend_test() declares:
#   cmake -DSERVER=<echo_server> -DBACKEND=<your.so> [-DLOADGEN=<connsched_loadgen>]
#         [-DCLIENTS=64] [-DSECONDS=3] [-DOPTIONS="--a=1;--b=2"] -P ConnschedCheckBackend.cmake
# It starts the echo server with the backend loaded by path, checks one echo with a real
# socket client, runs CLIENTS concurrent connections for SECONDS with connsched_loadgen
# (every reply checked; any error fails), then sends SIGTERM and requires exit status 0,
# and fails on any sanitizer report or error line in the server's log.
foreach(var SERVER BACKEND)
  if(NOT ${var})
    message(FATAL_ERROR "ConnschedCheckBackend: -D${var}=... is required")
  endif()
endforeach()
if(NOT CLIENTS)
  set(CLIENTS 64)
endif()
if(NOT SECONDS)
  set(SECONDS 3)
endif()
string(REPLACE ";" " " _options "${OPTIONS}")
set(_loadgen "true")
if(LOADGEN)
  set(_loadgen "\"${LOADGEN}\" --port=\"$port\" --protocol=line --request=ping \
    -c ${CLIENTS} --duration=${SECONDS} >\"$log.load\" 2>&1 \
    && grep -q '^  errors 0 ' \"$log.load\" || { echo '--- load:'; cat \"$log.load\"; false; }")
endif()
execute_process(COMMAND bash -c "
  set -u; log=$(mktemp); status=1
  \"${SERVER}\" --port=0 --thread-handling=\"${BACKEND}\" ${_options} 2>\"$log\" & pid=$!
  for i in $(seq 1 100); do grep -q 'listening on' \"$log\" && break; sleep 0.1; done
  port=$(sed -n 's/.*listening on [^ ]*:\\([0-9]*\\).*/\\1/p' \"$log\" | head -n1)
  exec 3<>/dev/tcp/127.0.0.1/$port && printf 'hello backend\\n' >&3 \
    && read -r -t 10 reply <&3 && exec 3>&- && test \"$reply\" = 'hello backend' \
    && ${_loadgen} && echo ok >\"$log.ok\"
  kill -TERM $pid; wait $pid; status=$?
  echo \"--- server log (exit status $status):\"; cat \"$log\"
  ok=0; test -f \"$log.ok\" && ok=1
  ! grep -q -e 'Sanitizer' -e '\\[error\\]' \"$log\" && test $ok = 1 && test $status -eq 0
  result=$?; rm -f \"$log\" \"$log.ok\" \"$log.load\"; exit $result"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the backend ${BACKEND} did not serve the echo clients (see above)")
endif()
