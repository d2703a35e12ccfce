# bw_embed_migrations(<target>): compiles the project's migrations/*.sql into <target>, as
# bw_embedded_migrations[] / bw_embedded_migrations_count (bulwark/migrate.h), so the
# deployed binary carries its schema. The C file is regenerated whenever a file in
# migrations/ changes or one is added or removed.

# Captured now: inside the function CMAKE_CURRENT_LIST_DIR is the caller's folder.
set(BW_EMBED_MIGRATIONS_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/embed_migrations.cmake")

function(bw_embed_migrations target)
  if(ARGN)
    message(FATAL_ERROR "bw_embed_migrations(${target}): unexpected arguments ${ARGN}")
  endif()
  set(dir "${PROJECT_SOURCE_DIR}/migrations")
  # Every file, not only *.sql: the script also refuses misnamed ones (0002_x.SQL).
  file(GLOB files CONFIGURE_DEPENDS "${dir}/*")
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}_migrations.c")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND "${CMAKE_COMMAND}" "-DBW_MIGRATIONS_DIR=${dir}" "-DBW_MIGRATIONS_OUT=${out}"
            -P "${BW_EMBED_MIGRATIONS_SCRIPT}"
    DEPENDS ${files} "${BW_EMBED_MIGRATIONS_SCRIPT}"
    COMMENT "Embedding migrations/ into ${target}"
    VERBATIM)
  target_sources(${target} PRIVATE "${out}")
endfunction()
