# Writes the King James Bible as plain text from Debian's bible-kjv (run by
# the build: cmake -DBIBLE=/usr/bin/bible -DOUTPUT=.../kjv.txt -P kjv.cmake).
# One verse per line with its reference ("Ge1:1 ") stripped; a line without
# one fails the step rather than leaving references in the text.
execute_process(
  COMMAND ${BIBLE} -f "gen1:1-rev22:21"
  COMMAND awk "{ if (!sub(/^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ /, \"\")) { print \"kjv: no verse reference on line \" NR > \"/dev/stderr\"; exit 1 } print }"
  OUTPUT_FILE ${OUTPUT}.tmp
  RESULTS_VARIABLE results)
file(SIZE ${OUTPUT}.tmp size)
# every verse, Genesis 1:1 to Revelation 22:21, is 4.1 MB of text
if(NOT results STREQUAL "0;0" OR size LESS 4000000)
  file(REMOVE ${OUTPUT}.tmp)
  message(FATAL_ERROR "bible -f gen1:1-rev22:21 failed (exit statuses ${results}, ${size} bytes): "
                      "is bible-kjv installed whole? (tests/deps.sh installs it)")
endif()
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
