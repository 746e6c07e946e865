/* hitl notebooks-export: writes nbformat-4 .ipynb reports (jansson). Filled by the report issue. */
#ifndef HITL_NBEXPORT_H
#define HITL_NBEXPORT_H

#include "hitl_engine.h"

#endif /* HITL_NBEXPORT_H */
