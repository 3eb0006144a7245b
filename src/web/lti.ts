// LTI helper pages: the client-side postMessage storage of the LTI spec (the login's binding kept by the
// platform's frame, for browsers that block cookies in frames) and the deep-linking return form.
// The page's #lti element says what to do in data attributes; nothing here is inline script (strict CSP).

const el = document.getElementById('lti');
const d = el?.dataset ?? {};
const note = (text: string): void => {
  const p = document.getElementById('lti-status');
  if (p) p.textContent = text;
};

function storageFrame(target: string): Window | null {
  const parent = window.opener ?? window.parent;
  if (!parent || parent === window) return null;
  try {
    return target === '_parent' ? parent : (parent.frames as unknown as Record<string, Window>)[target] ?? parent;
  } catch {
    return parent;
  }
}

function ask(frame: Window, origin: string, msg: Record<string, string>, timeoutMs: number): Promise<Record<string, unknown> | null> {
  return new Promise((resolve) => {
    const id = `kmk-${Math.random().toString(36).slice(2)}`;
    const timer = setTimeout(() => { window.removeEventListener('message', on); resolve(null); }, timeoutMs);
    function on(ev: MessageEvent): void {
      const m = ev.data as Record<string, unknown> | null;
      if (!m || typeof m !== 'object' || m.message_id !== id) return;
      if (origin !== '*' && ev.origin !== origin) return;
      clearTimeout(timer);
      window.removeEventListener('message', on);
      resolve(m);
    }
    window.addEventListener('message', on);
    frame.postMessage({ ...msg, message_id: id }, origin);
  });
}

async function run(): Promise<void> {
  if (d.action === 'put' || d.action === 'get') {
    const frame = storageFrame(d.target ?? '_parent');
    const origin = d.origin ?? '*';
    const key = d.key ?? '';
    if (d.action === 'put') {
      // Keep the login's binding in the platform's storage; the launch reads it back in this browser only.
      if (frame) await ask(frame, origin, { subject: 'lti.put_data', key, value: d.value ?? '' }, 2000);
      location.replace(d.next ?? '/');
      return;
    }
    const answer = frame ? await ask(frame, origin, { subject: 'lti.get_data', key }, 2000) : null;
    const proof = answer && answer.subject === 'lti.get_data.response' && typeof answer.value === 'string' ? answer.value : '';
    if (!proof) note('Checking that this launch started in this browser…');
    // The server compares the proof with the login's binding and answers the class page, or why not.
    location.replace(`${d.next ?? '/'}&proof=${encodeURIComponent(proof)}`);
    return;
  }
  if (d.action === 'pick') {
    // datetime-local has no zone: send this browser's offset so the server reads the time as the instructor meant it.
    const tz = document.getElementById('tz') as HTMLInputElement | null;
    if (tz) tz.value = String(new Date().getTimezoneOffset());
    return;
  }
  if (d.action === 'submit') {
    const form = document.getElementById('lti-form') as HTMLFormElement | null;
    form?.submit();
  }
}

void run();
