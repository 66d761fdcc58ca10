"""A class service with ``resources={"cpu": 1}``: its API reports the worker's thread limits."""

import os

from threadpoolctl import threadpool_info

from app import api, service


@service(resources={"cpu": "1"})
class Threads:
    @api
    def threads(self) -> dict[str, object]:
        pools = [pool["num_threads"] for pool in threadpool_info()]
        return {"omp": os.environ.get("OMP_NUM_THREADS"), "pools": pools}
