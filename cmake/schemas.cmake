# bw_embed_schemas(<target> <folder>): compiles the folder's *.json schemas into <target> as
# bw_embedded_schemas[] / bw_embedded_schemas_count (bulwark/server.h). Regenerated when a
# schema changes or one is added or removed.
set(BW_EMBED_FILES_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/embed_files.cmake")

function(bw_embed_schemas target dir)
  file(GLOB files CONFIGURE_DEPENDS "${dir}/*.json")
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}_schemas.c")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND "${CMAKE_COMMAND}" "-DBW_EMBED_DIR=${dir}" "-DBW_EMBED_OUT=${out}"
            -P "${BW_EMBED_FILES_SCRIPT}"
    DEPENDS ${files} "${BW_EMBED_FILES_SCRIPT}"
    COMMENT "Embedding ${dir} into ${target}"
    VERBATIM)
  target_sources(${target} PRIVATE "${out}")
endfunction()

# bw_embed_file_set(<target> <folder> <glob> <symbol>): the same for any set of files, e.g. the
# configuration's own schema in the library.
function(bw_embed_file_set target dir glob symbol)
  file(GLOB files CONFIGURE_DEPENDS "${dir}/${glob}")
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}_${symbol}.c")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND "${CMAKE_COMMAND}" "-DBW_EMBED_DIR=${dir}" "-DBW_EMBED_OUT=${out}"
            "-DBW_EMBED_SYMBOL=${symbol}" "-DBW_EMBED_GLOB=${glob}" -P "${BW_EMBED_FILES_SCRIPT}"
    DEPENDS ${files} "${BW_EMBED_FILES_SCRIPT}"
    COMMENT "Embedding ${dir}/${glob} into ${target}"
    VERBATIM)
  target_sources(${target} PRIVATE "${out}")
endfunction()
