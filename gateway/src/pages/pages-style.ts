/** The one stylesheet of the platform pages, served at /_tenancy/pages.css. */
export const PAGES_STYLE = `
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d6dae1; --accent: #1f5fbf; --bad: #b00020; --warn: #8a5a00; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: var(--ink); }
header { display: flex; gap: 1.5rem; align-items: center; padding: 0.75rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
header nav { display: flex; gap: 1rem; flex-wrap: wrap; }
.brand { font-weight: 700; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem; }
main:focus { outline: none; }
h1 { margin-top: 0; }
a { color: var(--accent); }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: 0.5rem; z-index: 1; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1rem 1.25rem; margin-bottom: 1rem; }
section h2 { margin: 0 0 0.5rem; font-size: 1.1rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; }
button, input, select { font: inherit; padding: 0.4rem 0.7rem; }
button { border: 1px solid var(--ink); border-radius: 4px; background: #fff; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { border-color: var(--bad); color: var(--bad); }
button:disabled { opacity: 0.5; cursor: default; }
.actions { display: flex; gap: 0.5rem; flex-wrap: wrap; align-items: center; }
.big { font-size: 2rem; font-variant-numeric: tabular-nums; font-weight: 600; }
.warning { border-color: var(--warn); background: #fff8e6; }
.error { color: var(--bad); }
.muted { color: var(--muted); }
progress { width: 100%; height: 0.75rem; }
table { width: 100%; border-collapse: collapse; font-size: 0.95rem; }
th, td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
pre { background: #10141c; color: #e4e8ef; padding: 0.75rem; overflow: auto; max-height: 28rem; font-size: 0.85rem; border-radius: 4px; }
.state { display: inline-block; padding: 0 0.4rem; border-radius: 3px; background: #e8ebf0; }
.state-running { background: #dff3e4; }
.state-waking { background: #e3ecfb; }
.state-failed { background: #fbe3e6; }
.mark { display: inline-block; padding: 0 0.4rem; border-radius: 3px; border: 1px solid var(--warn); color: var(--warn); background: #fff8e6; font-size: 0.85rem; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: 0.75rem; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 0.6rem 0.8rem; }
.tile b { display: block; font-size: 1.5rem; }
form.inline { display: flex; gap: 0.5rem; flex-wrap: wrap; align-items: end; }
label { display: grid; gap: 0.2rem; }
`;
