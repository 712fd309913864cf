# Hostile inputs to the `summarize` program (issue: out-of-bounds config values,
# deep JSON, lost input, hangs, numbers that size memory, terminal escapes, wrong
# blame). One SCENARIO per ctest test; each prepares its files under WORK_DIR,
# runs the program and checks the exit status, the messages and the files left.
#   PROGRAM   the summarize executable
#   MODEL     the bundled demo model folder (copied as links, then broken on purpose)
#   SCENARIO  see the if() chain below
#   WORK_DIR  scratch folder
cmake_minimum_required(VERSION 3.16)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run_program)
  execute_process(COMMAND "${PROGRAM}" ${ARGN} WORKING_DIRECTORY "${WORK_DIR}"
                  RESULT_VARIABLE status OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr TIMEOUT 110)
  message(STATUS "command: ${PROGRAM} ${ARGN}")
  message(STATUS "exit status: ${status}")
  message(STATUS "standard output:\n${stdout}")
  message(STATUS "standard error:\n${stderr}")
  set(status "${status}" PARENT_SCOPE)
  set(stdout "${stdout}" PARENT_SCOPE)
  set(stderr "${stderr}" PARENT_SCOPE)
endfunction()

function(expect_exit expected)
  if(NOT "${status}" STREQUAL "${expected}")
    message(FATAL_ERROR "exit status ${status}, expected ${expected}")
  endif()
endfunction()

function(expect_stderr regex)
  if(NOT stderr MATCHES "${regex}")
    message(FATAL_ERROR "standard error does not match '${regex}'")
  endif()
endfunction()

# No byte of a terminal control sequence (ESC, CSI) reaches the terminal.
function(expect_no_escape_bytes)
  string(ASCII 27 esc)
  string(FIND "${stderr}" "${esc}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "standard error holds a raw ESC byte at ${at}")
  endif()
endfunction()

# A copy of the demo model: small files copied (to be edited), shards linked.
function(copy_model destination)
  file(MAKE_DIRECTORY "${destination}")
  file(GLOB files "${MODEL}/*")
  foreach(file IN LISTS files)
    get_filename_component(name "${file}" NAME)
    if(name MATCHES "\\.safetensors$")
      file(CREATE_LINK "${file}" "${destination}/${name}" SYMBOLIC)
    else()
      file(COPY "${file}" DESTINATION "${destination}")
    endif()
  endforeach()
endfunction()

# N JSON Lines records, ids 1..N; a document is a short dialogue, or (every LONG-th
# record) a long one.
function(write_jsonl path count long_every)
  set(lines "")
  foreach(i RANGE 1 ${count})
    set(document "#Person1#: Would you like to come out with me tonight, number ${i}?\\n#Person2#: Sorry, I can't.")
    if(long_every GREATER 0)
      math(EXPR remainder "${i} % ${long_every}")
      if(remainder EQUAL 0)
        foreach(j RANGE 1 120)
          string(APPEND document "\\n#Person1#: And on day ${j}? #Person2#: No, I work late.")
        endforeach()
      endif()
    endif()
    string(APPEND lines "{\"id\": ${i}, \"document\": \"${document}\"}\n")
  endforeach()
  file(WRITE "${path}" "${lines}")
endfunction()

function(count_lines path out)
  file(STRINGS "${path}" lines)
  list(LENGTH lines n)
  set(${out} ${n} PARENT_SCOPE)
endfunction()

if(SCENARIO STREQUAL "jsonl_output_is_its_input")
  # -o naming the input: the file is replaced only once every batch was written.
  write_jsonl("${WORK_DIR}/docs.jsonl" 21 0)
  run_program(--jsonl docs.jsonl -o docs.jsonl --batch-size 4 --no-progress)
  expect_exit(0)
  count_lines("${WORK_DIR}/docs.jsonl" n)
  file(READ "${WORK_DIR}/docs.jsonl" text)
  string(REGEX MATCHALL "\"summary_text\":\"[^\"]+\"}" summaries "${text}")
  list(LENGTH summaries s)
  if(NOT n EQUAL 21 OR NOT s EQUAL 21)
    message(FATAL_ERROR "${n} lines and ${s} summaries in the rewritten file, expected 21 and 21")
  endif()

elseif(SCENARIO STREQUAL "jsonl_failed_batch_keeps_the_input")
  # Batch 4 (lines 13-16) holds a long document that the memory limit refuses after
  # three batches were written: the input, which is also the output, must be intact.
  write_jsonl("${WORK_DIR}/docs.jsonl" 21 16)
  file(READ "${WORK_DIR}/docs.jsonl" before)
  file(WRITE "${WORK_DIR}/old-output.jsonl" "previous results\n")
  run_program(--jsonl docs.jsonl -o docs.jsonl --batch-size 4 --memory-limit 16 --no-progress)
  expect_exit(1)
  expect_stderr("docs.jsonl lines 13-16: encoding a batch of 4 documents padded to [0-9]+ tokens needs about")
  expect_stderr("--batch-size")
  file(READ "${WORK_DIR}/docs.jsonl" after)
  if(NOT before STREQUAL after)
    message(FATAL_ERROR "the input file changed although the run failed")
  endif()
  run_program(--jsonl docs.jsonl -o old-output.jsonl --batch-size 4 --memory-limit 16 --no-progress)
  expect_exit(1)
  file(READ "${WORK_DIR}/old-output.jsonl" old)
  if(NOT old STREQUAL "previous results\n")
    message(FATAL_ERROR "a failed run changed the existing output file")
  endif()
  file(GLOB leftovers "${WORK_DIR}/.*")
  if(leftovers)
    message(FATAL_ERROR "temporary files were left behind: ${leftovers}")
  endif()

elseif(SCENARIO STREQUAL "jsonl_deep_nesting")
  # 100,000 nested '[' in one record: refused on input, naming the line.
  string(REPEAT "[" 100000 open)
  string(REPEAT "]" 100000 close)
  file(WRITE "${WORK_DIR}/deep.jsonl" "{\"document\": \"fine\"}\n{\"document\": \"x\", \"n\": ${open}${close}}\n")
  run_program(--jsonl deep.jsonl --no-progress)
  expect_exit(1)
  expect_stderr("deep.jsonl line 2: invalid JSON: arrays/objects nest deeper than 128 levels")

elseif(SCENARIO STREQUAL "combining_marks")
  # 'a' and 1,000,000 U+0301 (2 MB): SentencePiece is quadratic on it, so only the
  # document's first 64 bytes per input token reach the tokenizer.
  string(ASCII 204 129 mark)  # U+0301 in UTF-8
  string(REPEAT "${mark}" 1000 thousand)
  string(REPEAT "${thousand}" 1000 million)
  file(WRITE "${WORK_DIR}/marks.txt" "a${million}")
  run_program(marks.txt)
  expect_exit(0)
  expect_stderr("warning: 1 of 1 document was longer than the model's input limit")
  expect_stderr("first 32768 bytes before tokenizing")

elseif(SCENARIO STREQUAL "endless_input")
  run_program(/dev/zero)
  expect_exit(0)
  expect_stderr("first 32768 bytes before tokenizing")

elseif(SCENARIO STREQUAL "folder_as_input")
  file(MAKE_DIRECTORY "${WORK_DIR}/a-folder")
  run_program(a-folder)
  expect_exit(1)
  expect_stderr("cannot open input file 'a-folder': it is a directory, not a file")

elseif(SCENARIO STREQUAL "numbers_that_size_memory")
  # Memory follows the tokens generated, not max_new_tokens.
  run_program(--max-new-tokens 1000000000)
  expect_exit(0)
  run_program(--segment 0 --attention segmented)
  expect_exit(2)
  expect_stderr("--segment: Value 0 not in range 1 to 65536")
  copy_model("${WORK_DIR}/model")
  file(WRITE "${WORK_DIR}/model/generation_config.json" "{\"num_beams\": 60000, \"max_length\": 20}")
  run_program(--model model --memory-limit 1024)
  expect_exit(1)
  expect_stderr("with num_beams = 60000 \\(60000 hypotheses\\) needs about [0-9.]+ GiB, more than the memory limit of 1.0 GiB")
  expect_stderr("lower num_beams")

elseif(SCENARIO STREQUAL "generation_config_is_blamed")
  # A bad value in the model folder is the folder's fault (exit 1, the file named),
  # not the command line's (exit 2).
  copy_model("${WORK_DIR}/model")
  file(WRITE "${WORK_DIR}/model/generation_config.json" "{\"do_sample\": true, \"top_p\": 0}")
  run_program(--model model)
  expect_exit(1)
  expect_stderr("error: [^\n]*model/generation_config.json: generation option top_p = 0 is invalid")
  file(WRITE "${WORK_DIR}/model/generation_config.json" "{\"eos_token_id\": 8000}")
  run_program(--model model)
  expect_exit(1)
  expect_stderr("model/generation_config.json: generation option eos_token_id = 8000 is outside the model vocabulary")

elseif(SCENARIO STREQUAL "terminal_escapes")
  # ESC [ 2 J (clear screen) and OSC 0 (window title) in file content are printed escaped.
  copy_model("${WORK_DIR}/model")
  file(READ "${WORK_DIR}/model/config.json" config)
  string(REPLACE "\"model_type\": \"t5\"" "\"model_type\": \"t5\\u001b[2J\\u001b]0;owned\\u0007\"" config "${config}")
  file(WRITE "${WORK_DIR}/model/config.json" "${config}")
  run_program(--model model)
  expect_exit(1)
  expect_no_escape_bytes()
  expect_stderr("unsupported model_type 't5\\\\x1b\\[2J\\\\x1b\\]0;owned\\\\x07'")

elseif(SCENARIO STREQUAL "relative_attention_max_distance")
  # Values that sent the T5 bucket index outside the bias table.
  copy_model("${WORK_DIR}/model")
  file(READ "${WORK_DIR}/model/config.json" config)
  string(REPLACE "\"relative_attention_max_distance\": 128" "\"relative_attention_max_distance\": 7" broken "${config}")
  file(WRITE "${WORK_DIR}/model/config.json" "${broken}")
  run_program(--model model)
  expect_exit(1)
  expect_stderr("config.json: 'relative_attention_max_distance' must be greater than half of 'relative_attention_num_buckets' \\(16\\), got 7")

else()
  message(FATAL_ERROR "unknown SCENARIO '${SCENARIO}'")
endif()
