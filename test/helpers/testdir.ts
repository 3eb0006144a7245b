// A test's folder, removed only after the test's own teardowns have run.
//
// tap runs the fixture plugin's removal before the teardowns when t.testdir() is called before the first
// t.teardown() (the plugin that wraps the test's end last runs first). Tests start a server in the folder and stop
// it in a teardown, so the folder was being removed while ffmpeg still wrote segments into it: ENOTEMPTY on a busy
// box, and a teardown skipped after that error left the server running into the next test. Registering a teardown
// first puts the removal after every teardown.

export interface FixtureTest {
  teardown(fn: () => unknown): void;
  testdir(content?: Record<string, unknown>): string;
}

export function testdir(t: FixtureTest, content?: Record<string, unknown>): string {
  t.teardown(() => undefined);
  return content ? t.testdir(content) : t.testdir();
}
