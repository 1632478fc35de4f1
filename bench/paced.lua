-- wrk script: each connection waits 32 ms between requests, so 32 connections ask about
-- 1,000 times a second: a steady load well under what the server can answer, as readers'
-- polls are, instead of as many requests as it can take.
function delay()
    return 32
end
