/**
 * The recipe end to end on CPU, with tiny Qwen3 models (real vocabulary, random initialisation): the curator
 * builds a small Thai SFT set, a legal corpus and RL prompts; the trainer trains a teacher by SFT, then a student
 * by SFT, distils the teacher into it on-policy, and finishes with InK-GRPO on prompts whose answers are
 * verifiable (token F1 against the reference). Each stage starts from the checkpoint the one before wrote.
 * Checked: the SFT loss falls, the student's KL to the teacher falls, and the mean reward rises over the run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStack, engineAvailable, type TestStack, waitForRun } from "./helpers";

/** Short legal questions with one- or two-word answers, so a tiny model can learn them in a few steps. */
const QA: [string, string][] = [
  ["การกระทำโดยจงใจหรือประมาทเลินเล่อให้ผู้อื่นเสียหายเรียกว่าอะไร", "ละเมิด"],
  ["ผู้ที่ทำให้ผู้อื่นเสียหายโดยผิดกฎหมายได้กระทำสิ่งใด", "ละเมิด"],
  ["สัญญาซื้อขายที่ดินต้องทำตามแบบใด", "ทำเป็นหนังสือและจดทะเบียน"],
  ["บุคคลบรรลุนิติภาวะเมื่ออายุเท่าใด", "ยี่สิบปีบริบูรณ์"],
  ["ผู้เยาว์ทำนิติกรรมต้องได้รับความยินยอมจากใคร", "ผู้แทนโดยชอบธรรม"],
  ["นิติกรรมที่ขัดต่อกฎหมายมีผลอย่างไร", "เป็นโมฆะ"],
  ["อายุความทั่วไปตามประมวลกฎหมายแพ่งคือกี่ปี", "สิบปี"],
  ["การยืมใช้คงรูปเป็นสัญญาที่ไม่มีอะไร", "ค่าตอบแทน"],
];

/**
 * The RL task: name the wrong in a described case. Every prompt's verifiable answer is the same word, which the
 * SFT set teaches for two questions only, so the policy starts by sometimes answering it and GRPO has a signal.
 */
const RL_PROMPTS = [
  "ขับรถโดยประมาทชนรถของผู้อื่นเสียหาย เป็นการกระทำใด",
  "จงใจทำลายทรัพย์สินของเพื่อนบ้าน เป็นการกระทำใด",
  "หมิ่นประมาทผู้อื่นทางแพ่งจนเสียชื่อเสียง เป็นการกระทำใด",
  "ปล่อยสุนัขไปกัดผู้อื่นบาดเจ็บ เจ้าของได้กระทำสิ่งใด",
  "ทำให้ผู้อื่นเสียหายโดยผิดกฎหมาย เรียกว่าอะไร",
  "บุกรุกที่ดินผู้อื่นจนพืชผลเสียหาย เป็นการกระทำใด",
  "แพทย์ประมาทเลินเล่อจนคนไข้บาดเจ็บ เป็นการกระทำใด",
  "นายจ้างต้องร่วมรับผิดในการกระทำใดของลูกจ้าง",
];

const CORPUS = [
  "มาตรา ๔๒๐ ผู้ใดจงใจหรือประมาทเลินเล่อ ทำต่อบุคคลอื่นโดยผิดกฎหมายให้เขาเสียหาย ท่านว่าผู้นั้นทำละเมิด จำต้องใช้ค่าสินไหมทดแทนเพื่อการนั้น",
  "มาตรา ๑๙ บุคคลย่อมพ้นจากภาวะผู้เยาว์และบรรลุนิติภาวะเมื่ออายุยี่สิบปีบริบูรณ์",
  "มาตรา ๑๕๐ การใดมีวัตถุประสงค์เป็นการต้องห้ามชัดแจ้งโดยกฎหมาย เป็นการพ้นวิสัย หรือเป็นการขัดขวางต่อความสงบเรียบร้อย การนั้นเป็นโมฆะ",
  "มาตรา ๑๙๓/๓๐ อายุความนั้น ถ้าประมวลกฎหมายนี้หรือกฎหมายอื่นมิได้บัญญัติไว้โดยเฉพาะ ให้มีกำหนดสิบปี",
];

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe.skipIf(!engineAvailable)(
  "the recipe: SFT, on-policy distillation, InK-GRPO",
  { timeout: 900_000 },
  () => {
    let stack: TestStack;
    let train: string;
    let corpus: string;
    let prompts: string;

    beforeAll(async () => {
      stack = await createStack();
      train = await stack.version(
        "recipe-sft",
        "chat",
        QA.map(([q, a], i) => ({
          id: `qa${i}`,
          messages: [
            { role: "user", content: q },
            { role: "assistant", content: a },
          ],
        })),
      );
      corpus = await stack.version(
        "recipe-corpus",
        "text",
        CORPUS.map((text, i) => ({ id: `s${i}`, text })),
      );
      prompts = await stack.version(
        "recipe-prompts",
        "rl-prompt",
        RL_PROMPTS.map((q, i) => ({
          id: `p${i}`,
          prompt: [{ role: "user", content: q }],
          reward_model: { style: "rule", ground_truth: JSON.stringify({ answer: "ละเมิด" }) },
        })),
      );
    }, 300_000);

    afterAll(async () => {
      await stack?.cleanup();
    });

    /** Queue a run and wait for it; returns the run with its metrics, failing with the engine's output. */
    const train_ = async (spec: Record<string, unknown>) => {
      const res = await stack.post("/v1/training/runs", spec);
      expect(res.status, await res.clone().text()).toBe(202);
      const run = await waitForRun(stack, ((await res.json()) as { id: string }).id);
      expect(run.status, `${run.error}\n${run.logTail}`).toBe("succeeded");
      return run;
    };
    const series = (run: Awaited<ReturnType<typeof train_>>, key: string) => {
      const v = run.metrics.filter((m) => m.rank === 0).map((m) => m.metrics[key] as number);
      console.log(`SERIES ${run.name} ${key}: ${v.map((x) => x.toFixed(3)).join(" ")}`);
      return v;
    };
    const finalCheckpoint = (run: Awaited<ReturnType<typeof train_>>) => {
      const last = run.checkpoints.at(-1);
      if (!last) throw new Error(`run ${run.id} wrote no checkpoint`);
      return last.path;
    };

    it("runs the three stages, each from the last one's checkpoint, improving what it optimizes", async () => {
      const sftHyper = { seqLen: 64, rowsPerStep: 4, lr: 2e-2, warmupSteps: 2, checkpointEvery: 0 };
      const teacher = await train_({
        name: "teacher",
        stage: "sft",
        model: { tiny: "tiny-2", seed: 7 },
        datasets: { train },
        hyper: { ...sftHyper, totalSteps: 30 },
        seed: 1,
      });
      const teacherLoss = series(teacher, "loss");
      expect(mean(teacherLoss.slice(-3))).toBeLessThan(mean(teacherLoss.slice(0, 3)) * 0.3);

      const student = await train_({
        name: "student-sft",
        stage: "sft",
        model: { tiny: "tiny", seed: 11 },
        datasets: { train },
        hyper: { ...sftHyper, totalSteps: 20 },
        seed: 2,
      });
      const studentLoss = series(student, "loss");
      expect(mean(studentLoss.slice(-3))).toBeLessThan(mean(studentLoss.slice(0, 3)));

      const distilled = await train_({
        name: "student-opd",
        stage: "opd",
        model: { path: finalCheckpoint(student) },
        teacher: { path: finalCheckpoint(teacher) },
        datasets: { train },
        hyper: {
          totalSteps: 16,
          seqLen: 64,
          rowsPerStep: 4,
          lr: 1e-2,
          lambda: 0.5,
          maxTokens: 16,
          checkpointEvery: 0,
        },
        seed: 3,
      });
      const kl = series(distilled, "kl");
      expect(mean(kl.slice(-4))).toBeLessThan(mean(kl.slice(0, 4)));

      const rl = await train_({
        name: "student-ink-grpo",
        stage: "ink-grpo",
        model: { path: finalCheckpoint(distilled) },
        datasets: { prompts, corpus },
        hyper: {
          totalSteps: 16,
          seqLen: 64,
          rowsPerStep: 4,
          lr: 5e-3,
          groupSize: 4,
          maxTokens: 16,
          temperature: 1,
          checkpointEvery: 0,
        },
        seed: 4,
      });
      const reward = series(rl, "reward_mean");
      expect(reward).toHaveLength(16);
      expect(mean(reward.slice(-5))).toBeGreaterThan(mean(reward.slice(0, 5)));
      const applied = series(rl, "ce_applied");
      expect(applied.some((v) => v === 1) && applied.some((v) => v === 0)).toBe(true);
    });
  },
);
