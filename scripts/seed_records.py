#!/usr/bin/env python3
"""Seeds a table of the records benchmark through the batch API.

usage: seed_records.py BASE_URL CA_PEM TOKEN TABLE_ID COUNT [--parallel N] [--first N] [--whole]

Sends batches of 1,000 records (POST /api/v1/tables/{id}/records/batch)
over HTTPS keep-alive connections, N at a time, and prints one JSON line:
{"records": ..., "seconds": ..., "records_per_s": ...}. Values are
deterministic in the record number so runs are comparable. As a bulk
loader does, it asks for ids and versions only (`Prefer: return=minimal`);
with --whole, for the whole records back.
"""
import http.client
import json
import ssl
import sys
import threading
import time
import urllib.parse

STATES = ["新建", "跟进", "成交", "流失"]


def record(n):
    return {
        "fields": {
            "名称": f"客户{n:07d}",
            "金额": f"{(n * 7919) % 1000000}.{n % 100:02d}",
            "状态": STATES[n % 4],
            "数量": n % 1000,
            "签约日": f"20{20 + n % 7}-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "备注": "备注" * (n % 5),
            "邮箱": f"user{n}@example.cn",
            "电话": f"138{n % 100000000:08d}",
            "完成": n % 2 == 0,
            "等级": n % 10,
        }
    }


def main():
    args = sys.argv[1:]
    parallel = 4
    first = 1
    prefer = "return=minimal"
    if "--whole" in args:
        args.remove("--whole")
        prefer = "return=representation"
    if "--parallel" in args:
        i = args.index("--parallel")
        parallel = int(args[i + 1])
        del args[i : i + 2]
    if "--first" in args:
        i = args.index("--first")
        first = int(args[i + 1])
        del args[i : i + 2]
    base, ca, token, table, count = args[0], args[1], args[2], args[3], int(args[4])
    url = urllib.parse.urlparse(base)
    context = ssl.create_default_context(cafile=ca)
    context.check_hostname = False
    path = f"/api/v1/tables/{table}/records/batch"
    starts = list(range(first, first + count, 1000))
    bodies = {}
    lock = threading.Lock()
    failures = []

    def body_for(start):
        stop = min(start + 1000, first + count)
        return json.dumps({"records": [record(n) for n in range(start, stop)]}).encode()

    def work():
        conn = http.client.HTTPSConnection(url.hostname, url.port, context=context)
        while True:
            with lock:
                if not starts:
                    return
                start = starts.pop(0)
                body = bodies.pop(start)
            conn.request(
                "POST",
                path,
                body=body,
                headers={
                    "authorization": f"Bearer {token}",
                    "content-type": "application/json",
                    "prefer": prefer,
                },
            )
            response = conn.getresponse()
            answer = response.read()
            if response.status != 201:
                failures.append((start, response.status, answer[:300]))
                return

    # Bodies are encoded before the clock starts: what is timed is the server.
    for start in starts:
        bodies[start] = body_for(start)
    began = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - began
    if failures:
        print(json.dumps({"error": str(failures[0])}))
        sys.exit(1)
    print(json.dumps({"records": count, "seconds": round(seconds, 3), "records_per_s": round(count / seconds)}))


if __name__ == "__main__":
    main()
