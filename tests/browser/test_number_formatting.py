"""The page's own number formatting (static/playground/timeline.js) in Chromium: formatCount
writes what en-US Intl.NumberFormat writes (the page stopped using Intl to spare a cold load
the locale data), formatDuration's tenths round as before, and naturalCompare puts
consumer-2 before consumer-10 as a numeric collator would."""

import random

VALUES = [0, -0, 1, 7, 12, 999, 1000, 1001, 9999, 12345, 999999, 1000000, 1234567890,
          -1, -1234, -999.9996, 0.5, 1.25, 3.14159, 1234.5678, 1234.0004, 0.0004, 0.0005,
          1.2345, 2.0005, 0.9996, 999.9995, 0.0000001, 1e-7, 5e-4, 1.0005, 8.675, -0.0004,
          2 ** 53, 1e20, 123456789012.345]

FORMAT_JS = r"""async (values) => {
  const {formatCount, formatDuration, naturalCompare} =
    await import("/static/playground/timeline.js");
  const intl = new Intl.NumberFormat("en-US");
  const counts = values.map((v) => [v, formatCount(v), intl.format(v)]);
  const tenths = (v) => v.toLocaleString("en-US", {maximumFractionDigits: 1});
  const durations = [10000, 12345, 42500, 99949, 119999, 7200000, 86400000, 123456789]
    .map((ms) => [ms, formatDuration(ms), ms < 120000 ? `${tenths(ms / 1000)} s`
      : ms >= 7200000 ? `${tenths(ms / 3600000)} h` : null]);
  const ids = ["consumer-10", "consumer-2", "consumer-1", "rdkafka-b", "rdkafka-a",
    "consumer-02", "c", "consumer-"];
  const collator = new Intl.Collator("en", {numeric: true});
  return {counts, durations, natural: [...ids].sort(naturalCompare),
    collated: [...ids].sort(collator.compare)};
}"""


async def test_page_formats_numbers_as_en_us_intl_does(browser, site):
    seed = random.randrange(2 ** 32)
    rng = random.Random(seed)
    values = VALUES + [rng.randrange(-10 ** 12, 10 ** 12) for _ in range(200)] + \
        [round(rng.uniform(-10 ** 6, 10 ** 6), rng.randrange(0, 5)) for _ in range(200)]
    page = await browser.new_page()
    await page.goto(f"{site}/healthz")
    result = await page.evaluate(FORMAT_JS, values)
    await page.close()
    # One difference on purpose: what rounds to zero is "0", never Intl's "-0".
    wrong = [(v, ours, intl) for v, ours, intl in result["counts"]
             if ours != ("0" if intl == "-0" else intl)]
    assert wrong == [], f"seed {seed}: formatCount differs from Intl.NumberFormat('en-US')"
    for ms, ours, expected in result["durations"]:
        if expected is not None:
            assert ours == expected, ms
    assert result["natural"][:5] == ["c", "consumer-", "consumer-1", "consumer-2", "consumer-02"] \
        or result["natural"][:5] == ["c", "consumer-", "consumer-1", "consumer-02", "consumer-2"]
    assert result["natural"][5:] == ["consumer-10", "rdkafka-a", "rdkafka-b"]
    assert [i for i in result["natural"] if i != "consumer-02"] == \
        [i for i in result["collated"] if i != "consumer-02"]
