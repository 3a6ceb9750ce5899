# Browser end-to-end tests: Debian's Chromium running the demo page (web/, JsSIP) against the real
# rtcgw, with Kamailio (demo/kamailio.cfg) as the IMS core. Each runs inside a private network
# namespace with only lo up (unshare --net: root, as in CI), so ports never collide and nothing
# leaves the machine. Needs what scripts/setup.sh installs: chromium, kamailio, node_modules and
# web/jssip.min.js. Included from tests/CMakeLists.txt, which sets RTCGW_BIN.
set(RTCGW_E2E_OUT ${CMAKE_BINARY_DIR}/e2e)

add_test(NAME e2e_browser_register
  COMMAND unshare --net sh -c "ip link set lo up && exec \"$@\"" e2e
          node ${PROJECT_SOURCE_DIR}/tests/e2e/register_message.js
          --rtcgw ${RTCGW_BIN} --out ${RTCGW_E2E_OUT}/register_message
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_browser_register PROPERTIES TIMEOUT 120 LABELS e2e)

add_test(NAME e2e_browser_media_call
  COMMAND unshare --net sh -c "ip link set lo up && exec \"$@\"" e2e
          node ${PROJECT_SOURCE_DIR}/tests/e2e/media_call.js
          --rtcgw ${RTCGW_BIN} --out ${RTCGW_E2E_OUT}/media_call
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_browser_media_call PROPERTIES TIMEOUT 240 LABELS e2e)

# The same calls with media.ice: full (libnice on rtcgw's side of the browser leg).
add_test(NAME e2e_browser_media_call_full_ice
  COMMAND unshare --net sh -c "ip link set lo up && exec \"$@\"" e2e
          node ${PROJECT_SOURCE_DIR}/tests/e2e/media_call.js
          --rtcgw ${RTCGW_BIN} --out ${RTCGW_E2E_OUT}/media_call_full_ice --ice full
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_browser_media_call_full_ice PROPERTIES TIMEOUT 240 LABELS e2e)

# Opus on the browser leg, PCMU at the far end (tests/e2e/echo_far_end.js, which records the
# RFC 4733 events it gets); DTMF by INFO and by RFC 4733 from the browser.
add_test(NAME e2e_browser_media_transcode
  COMMAND unshare --net sh -c "ip link set lo up && exec \"$@\"" e2e
          node ${PROJECT_SOURCE_DIR}/tests/e2e/media_transcode.js
          --rtcgw ${RTCGW_BIN} --out ${RTCGW_E2E_OUT}/media_transcode
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_browser_media_transcode PROPERTIES TIMEOUT 180 LABELS e2e)

# media.video: passthrough: audio + VP8 from Chromium's fake camera to echo_far_end.js (plain
# RTP/AVP video line of its own, echoed under another SSRC) and from the core (sipp -rtp_echo),
# frames decoded from what comes back through rtcgw.
add_test(NAME e2e_browser_media_video
  COMMAND unshare --net sh -c "ip link set lo up && exec \"$@\"" e2e
          node ${PROJECT_SOURCE_DIR}/tests/e2e/media_video.js
          --rtcgw ${RTCGW_BIN} --out ${RTCGW_E2E_OUT}/media_video
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_browser_media_video PROPERTIES TIMEOUT 180 LABELS e2e)

# The same with media.video_codecs: [H264] (Chromium's OpenH264 encoder, FFmpeg decoder).
add_test(NAME e2e_browser_media_video_h264
  COMMAND unshare --net sh -c "ip link set lo up && exec \"$@\"" e2e
          node ${PROJECT_SOURCE_DIR}/tests/e2e/media_video.js
          --rtcgw ${RTCGW_BIN} --out ${RTCGW_E2E_OUT}/media_video_h264 --video-codecs H264
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_browser_media_video_h264 PROPERTIES TIMEOUT 180 LABELS e2e)
