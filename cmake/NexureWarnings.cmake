# Warning flags applied to every NexureJS target through nexure_set_warnings().
function(nexure_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wimplicit-fallthrough)
  if(NEXURE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
