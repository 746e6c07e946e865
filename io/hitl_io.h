/* hitl io: the adapters between the engine and the world, in rooms: files/ (the formats hitl
 * reads and writes) and store/ (the annotation store). One include for a client of both. */
#ifndef HITL_IO_H
#define HITL_IO_H

#include "hitl_files.h"
#include "hitl_store.h"
#include "hitl_store_json.h"

#endif /* HITL_IO_H */
