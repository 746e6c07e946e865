/* Included last by every library source file: calls that print, exit or overflow become compile
 * errors there. Only cli/ may print or exit. (After git's banned.h.) */
#ifndef HITL_BANNED_H
#define HITL_BANNED_H

#define HITL__BANNED(func) sorry_##func##_is_banned_in_hitl_libraries

#undef printf
#define printf(...) HITL__BANNED(printf)
#undef fprintf
#define fprintf(...) HITL__BANNED(fprintf)
#undef puts
#define puts(...) HITL__BANNED(puts)
#undef exit
#define exit(...) HITL__BANNED(exit)
#undef abort
#define abort(...) HITL__BANNED(abort)
#undef sprintf
#define sprintf(...) HITL__BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) HITL__BANNED(vsprintf)
#undef strcpy
#define strcpy(...) HITL__BANNED(strcpy)
#undef strcat
#define strcat(...) HITL__BANNED(strcat)
#undef rand
#define rand(...) HITL__BANNED(rand)

#endif /* HITL_BANNED_H */
